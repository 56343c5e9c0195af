package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"

	"github.com/hashicorp/raft"
)

// Limits on the variable-length fields of a BackupHeader. Writers refuse
// longer fields; readers refuse longer lengths before allocating anything.
const (
	MaxBackupIDLen            = 1 << 10 // ClusterID, NodeID
	MaxBackupConfigurationLen = 1 << 20 // Configuration
)

// MaxBackupIndex is the largest Index, Term or ConfigurationIndex a backup
// header may hold. No real log reaches it (at a billion entries a second it
// takes 292 years), while values near math.MaxUint64 wrap the arithmetic
// every raft implementation does on them (index+1); writers refuse and
// readers reject anything above it.
const MaxBackupIndex = math.MaxInt64

// backupMagic opens every backup file (same construction as streamMagic).
var backupMagic = [8]byte{0x89, 'R', 'K', 'B', 'K', 'U', 'P', '\n'}

// Backup layout (all integers big-endian):
//
//	magic          8 bytes  backupMagic
//	version        uint16   FormatVersion
//	fieldsLen      uint32   length of the header fields
//	fields                  clusterID (uint16 n, n bytes), nodeID (uint16 n,
//	                        n bytes), index, term, configurationIndex
//	                        (uint64 each), configuration (uint32 n, n bytes),
//	                        createdUnixNano int64, size int64
//	headerCRC      uint32   CRC-32C of everything above
//	snapshot       size bytes, the raft snapshot as the store holds it
//	fileCRC        uint32   CRC-32C of everything above, header included
//	                        and nothing after it.
const (
	backupPreambleSize  = 8 + 2 + 4
	backupFixedFields   = 2 + 2 + 8 + 8 + 8 + 4 + 8 + 8
	maxBackupFieldsSize = backupFixedFields + 2*MaxBackupIDLen + MaxBackupConfigurationLen
)

// BackupHeader describes the snapshot a backup holds and what is needed to
// restore it into a cluster: where it came from, the raft index and term it
// corresponds to, and the membership configuration in force at that index.
type BackupHeader struct {
	// ClusterID and NodeID name the cluster and node the backup was taken
	// from (informational; at most MaxBackupIDLen bytes each).
	ClusterID, NodeID string
	// Index and Term are those of the snapshot (raft.SnapshotMeta), each
	// in 1..MaxBackupIndex. They describe the log the backup came from; a
	// restore takes its index and term from the live cluster, never from
	// here.
	Index, Term uint64
	// ConfigurationIndex is the index at which Configuration was committed:
	// 1..Index, or 0 when Configuration is empty.
	ConfigurationIndex uint64
	// Configuration is raft.EncodeConfiguration output (at most
	// MaxBackupConfigurationLen bytes) of a configuration raft accepts (at
	// least one voter, unique non-empty IDs and addresses), or empty; see
	// RaftConfiguration.
	Configuration []byte
	// CreatedUnixNano is when the backup was taken, in nanoseconds since the
	// Unix epoch; 0 means unknown; never negative.
	CreatedUnixNano int64
	// Size is the number of snapshot bytes that follow the header.
	Size int64
}

// RaftConfiguration decodes Configuration. Unlike raft.DecodeConfiguration
// it does not panic on bad input: it returns an error wrapping ErrCorrupt.
func (h BackupHeader) RaftConfiguration() (cfg raft.Configuration, err error) {
	defer func() {
		if p := recover(); p != nil {
			cfg, err = raft.Configuration{}, fmt.Errorf("%w: backup configuration does not decode: %v", ErrCorrupt, p)
		}
	}()
	return raft.DecodeConfiguration(h.Configuration), nil
}

func (h BackupHeader) validate() error {
	switch {
	case len(h.ClusterID) > MaxBackupIDLen:
		return fmt.Errorf("%w: BackupHeader.ClusterID is %d bytes, limit %d", ErrInvalidHeader, len(h.ClusterID), MaxBackupIDLen)
	case len(h.NodeID) > MaxBackupIDLen:
		return fmt.Errorf("%w: BackupHeader.NodeID is %d bytes, limit %d", ErrInvalidHeader, len(h.NodeID), MaxBackupIDLen)
	case len(h.Configuration) > MaxBackupConfigurationLen:
		return fmt.Errorf("%w: BackupHeader.Configuration is %d bytes, limit %d", ErrInvalidHeader, len(h.Configuration), MaxBackupConfigurationLen)
	case h.Size < 0:
		return fmt.Errorf("%w: BackupHeader.Size is negative (%d)", ErrInvalidHeader, h.Size)
	}
	if field, reason := h.checkValues(); field != "" {
		return fmt.Errorf("%w: BackupHeader.%s %s", ErrInvalidHeader, field, reason)
	}
	return nil
}

// checkValues checks the values of the fixed fields against what a raft
// snapshot can hold, and returns the first bad field and why, or "". The
// same rules bind writers and readers, so the encoding stays canonical:
// every backup ReadBackup accepts is one WriteBackup can produce.
//
//   - Index and Term: 1..MaxBackupIndex (raft's first entry has index 1
//     and term 1; a snapshot is never taken before it).
//   - Configuration: empty (none recorded) with ConfigurationIndex 0; or
//     exactly raft.EncodeConfiguration of a configuration raft accepts
//     (at least one voter; every server with an ID and an address, none
//     twice; a known suffrage), with ConfigurationIndex in 1..Index.
//   - CreatedUnixNano: not negative (0 means unknown).
//
// ClusterID and NodeID are informational and only length-limited.
func (h BackupHeader) checkValues() (field, reason string) {
	switch {
	case h.Index == 0 || h.Index > MaxBackupIndex:
		return "Index", fmt.Sprintf("is %d, want 1..%d", h.Index, uint64(MaxBackupIndex))
	case h.Term == 0 || h.Term > MaxBackupIndex:
		return "Term", fmt.Sprintf("is %d, want 1..%d", h.Term, uint64(MaxBackupIndex))
	case h.CreatedUnixNano < 0:
		return "CreatedUnixNano", fmt.Sprintf("is negative (%d)", h.CreatedUnixNano)
	case len(h.Configuration) == 0 && h.ConfigurationIndex != 0:
		return "ConfigurationIndex", fmt.Sprintf("is %d without a Configuration", h.ConfigurationIndex)
	case len(h.Configuration) == 0:
		return "", ""
	case h.ConfigurationIndex == 0 || h.ConfigurationIndex > h.Index:
		return "ConfigurationIndex", fmt.Sprintf("is %d, want 1..Index (%d)", h.ConfigurationIndex, h.Index)
	}
	cfg, err := h.RaftConfiguration()
	if err != nil {
		return "Configuration", "does not decode"
	}
	if reason := checkRaftConfiguration(cfg); reason != "" {
		return "Configuration", reason
	}
	if !bytes.Equal(raft.EncodeConfiguration(cfg), h.Configuration) {
		return "Configuration", "is not in raft's encoding (it re-encodes differently)"
	}
	return "", ""
}

// checkRaftConfiguration applies the rules raft itself applies to a
// configuration (raft's checkConfiguration is not exported).
func checkRaftConfiguration(cfg raft.Configuration) string {
	ids := make(map[raft.ServerID]bool, len(cfg.Servers))
	addrs := make(map[raft.ServerAddress]bool, len(cfg.Servers))
	voters := 0
	for i, s := range cfg.Servers {
		switch {
		case s.ID == "":
			return fmt.Sprintf("server %d has an empty ID", i)
		case s.Address == "":
			return fmt.Sprintf("server %d (%q) has an empty address", i, s.ID)
		case ids[s.ID]:
			return fmt.Sprintf("server ID %q appears twice", s.ID)
		case addrs[s.Address]:
			return fmt.Sprintf("server address %q appears twice", s.Address)
		}
		ids[s.ID], addrs[s.Address] = true, true
		switch s.Suffrage {
		case raft.Voter:
			voters++
		case raft.Nonvoter, raft.Staging:
		default:
			return fmt.Sprintf("server %q has unknown suffrage %d", s.ID, s.Suffrage)
		}
	}
	if voters == 0 {
		return "has no voter"
	}
	return ""
}

func appendBackupHeader(b []byte, h BackupHeader) []byte {
	fieldsLen := backupFixedFields + len(h.ClusterID) + len(h.NodeID) + len(h.Configuration)
	b = append(b, backupMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, FormatVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(fieldsLen))
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.ClusterID)))
	b = append(b, h.ClusterID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.NodeID)))
	b = append(b, h.NodeID...)
	b = binary.BigEndian.AppendUint64(b, h.Index)
	b = binary.BigEndian.AppendUint64(b, h.Term)
	b = binary.BigEndian.AppendUint64(b, h.ConfigurationIndex)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.Configuration)))
	b = append(b, h.Configuration...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.CreatedUnixNano))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Size))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// WriteBackup writes a backup to w: the header h (with its own checksum),
// exactly h.Size bytes read from snapshotData, and a trailing CRC-32C over
// everything. It blocks until everything is written or something fails.
//
// A header that cannot be encoded, or whose values ReadBackup would refuse
// (see BackupHeader), is refused with an error wrapping ErrInvalidHeader
// before anything is written. If snapshotData yields fewer
// or more than h.Size bytes, WriteBackup stops with an error wrapping
// ErrSizeMismatch and writes no trailer, so the partial output is refused
// by ReadBackup. Failures of w or snapshotData are returned wrapped.
func WriteBackup(w io.Writer, h BackupHeader, snapshotData io.Reader) error {
	if err := h.validate(); err != nil {
		return err
	}
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w, crc)
	if _, err := out.Write(appendBackupHeader(nil, h)); err != nil {
		return fmt.Errorf("snapshot: writing backup header: %w", err)
	}
	buf := make([]byte, copyBufferSize)
	var copied int64
	for copied < h.Size {
		want := min(int64(len(buf)), h.Size-copied)
		n, rerr := snapshotData.Read(buf[:want])
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return fmt.Errorf("snapshot: writing backup: %w", err)
			}
			copied += int64(n)
		}
		if rerr == io.EOF {
			return fmt.Errorf("%w: snapshot data ended after %d bytes, header Size is %d", ErrSizeMismatch, copied, h.Size)
		}
		if rerr != nil {
			return fmt.Errorf("snapshot: reading snapshot data: %w", rerr)
		}
	}
	if err := expectNoMore(snapshotData, buf[:1]); err != nil {
		return fmt.Errorf("%w (header Size is %d)", err, h.Size)
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("snapshot: writing backup trailer: %w", err)
	}
	return nil
}

// expectNoMore checks that r is at its end, using buf (one byte) to probe.
func expectNoMore(r io.Reader, buf []byte) error {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			return fmt.Errorf("%w: snapshot data holds more bytes than the header says", ErrSizeMismatch)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot: reading snapshot data: %w", err)
		}
	}
}

// ReadBackup reads a whole backup from r, verifies its header checksum,
// its size and its trailing checksum, and only then returns the header and
// a reader of the snapshot bytes. The bytes are spooled to a temporary file
// in dir (the system temporary directory when dir is ""), removed when the
// reader is closed, so memory stays bounded: a few fixed buffers plus a
// header of at most about 1 MiB; field lengths over MaxBackupIDLen or
// MaxBackupConfigurationLen are refused before anything is allocated for
// them.
//
// A header checksum proves only that the header was not damaged, not who
// wrote it: every header value is checked against the rules BackupHeader
// documents (Index and Term in 1..MaxBackupIndex, a configuration raft
// accepts, ...) and a header that breaks one is refused with ErrCorrupt,
// naming the field, before a byte of the snapshot is read.
//
// ReadBackup blocks until r is exhausted or fails. On error it returns a
// nil reader and leaves nothing in dir. Errors wrap ErrNotBackup (empty
// input, wrong magic), ErrUnsupportedVersion (an intact header of another
// version), ErrCorrupt (checksum or length mismatch, a forged header
// value, bytes after the trailer) or ErrTruncated; failures of r or of the
// temporary file are returned wrapped.
func ReadBackup(r io.Reader, dir string) (BackupHeader, io.ReadCloser, error) {
	src := newSource(r)
	h, crc, err := readBackupHeader(src)
	if err != nil {
		return BackupHeader{}, nil, err
	}
	body := &backupBodyReader{src: src, remain: h.Size, crc: crc}
	spool, err := spoolTo(dir, "raftkit-backup-read-*", body)
	if err != nil {
		return BackupHeader{}, nil, err
	}
	return h, spool, nil
}

// readBackupHeader reads and checks the header, and returns it with the
// running CRC-32C of the bytes read so far.
func readBackupHeader(src *source) (BackupHeader, hash.Hash32, error) {
	var pre [backupPreambleSize]byte
	if err := src.readMagic(pre[:len(backupMagic)], backupMagic[:], ErrNotBackup, "backup"); err != nil {
		return BackupHeader{}, nil, err
	}
	if err := src.readFull(pre[len(backupMagic):], "backup header"); err != nil {
		return BackupHeader{}, nil, err
	}
	version := binary.BigEndian.Uint16(pre[8:])
	fieldsLen := binary.BigEndian.Uint32(pre[10:])
	if fieldsLen > maxBackupFieldsSize || fieldsLen < backupFixedFields {
		return BackupHeader{}, nil, formatErr(ErrCorrupt, 10, "backup header length %d outside %d..%d", fieldsLen, backupFixedFields, maxBackupFieldsSize)
	}
	rest := make([]byte, int(fieldsLen)+crcSize) // bounded just above
	if err := src.readFull(rest, "backup header"); err != nil {
		return BackupHeader{}, nil, err
	}
	crc := crc32.New(castagnoli)
	crc.Write(pre[:])
	crc.Write(rest[:fieldsLen])
	if stored := binary.BigEndian.Uint32(rest[fieldsLen:]); stored != crc.Sum32() {
		return BackupHeader{}, nil, formatErr(ErrCorrupt, int64(backupPreambleSize)+int64(fieldsLen),
			"backup header checksum mismatch (stored %08x, computed %08x)", stored, crc.Sum32())
	}
	if version != FormatVersion {
		return BackupHeader{}, nil, formatErr(ErrUnsupportedVersion, 8, "backup format version %d, this reader supports %d", version, FormatVersion)
	}
	h, err := parseBackupFields(rest[:fieldsLen])
	if err != nil {
		return BackupHeader{}, nil, err
	}
	crc.Write(rest[fieldsLen:])
	return h, crc, nil
}

// parseBackupFields decodes the header fields; it is only called on fields
// whose checksum matched, but still checks every length against its limit
// and against the bytes present.
func parseBackupFields(b []byte) (BackupHeader, error) {
	d := fieldDecoder{b: b, off: backupPreambleSize}
	var h BackupHeader
	h.ClusterID = string(d.bytes(int(d.u16()), MaxBackupIDLen, "ClusterID"))
	h.NodeID = string(d.bytes(int(d.u16()), MaxBackupIDLen, "NodeID"))
	h.Index = d.u64()
	h.Term = d.u64()
	h.ConfigurationIndex = d.u64()
	h.Configuration = d.bytes(int(d.u32()), MaxBackupConfigurationLen, "Configuration")
	h.CreatedUnixNano = int64(d.u64())
	h.Size = int64(d.u64())
	if d.err == nil && len(d.b) != 0 {
		d.err = formatErr(ErrCorrupt, d.off, "%d unexpected bytes at the end of the backup header", len(d.b))
	}
	if d.err == nil && h.Size < 0 {
		d.err = formatErr(ErrCorrupt, d.off-8, "negative snapshot size %d", h.Size)
	}
	if d.err != nil {
		return BackupHeader{}, d.err
	}
	// The checksum only proves the header was not damaged, not that a
	// writer of this format produced it: every value is checked too.
	if field, reason := h.checkValues(); field != "" {
		return BackupHeader{}, formatErr(ErrCorrupt, backupFieldOffset(h, field), "backup header field %s %s", field, reason)
	}
	return h, nil
}

// backupFieldOffset is the offset of field in the encoding of h.
func backupFieldOffset(h BackupHeader, field string) int64 {
	off := int64(backupPreambleSize + 2 + len(h.ClusterID) + 2 + len(h.NodeID))
	switch field {
	case "Index":
		return off
	case "Term":
		return off + 8
	case "ConfigurationIndex":
		return off + 16
	case "Configuration":
		return off + 24
	case "CreatedUnixNano":
		return off + 28 + int64(len(h.Configuration))
	}
	return off
}

// fieldDecoder reads big-endian fields from b; after the first error every
// read returns zero values and err keeps the first error.
type fieldDecoder struct {
	b   []byte
	off int64
	err error
}

func (d *fieldDecoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = formatErr(ErrCorrupt, d.off, "backup header field runs past the header")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	d.off += int64(n)
	return v
}

func (d *fieldDecoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *fieldDecoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *fieldDecoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// bytes returns a copy of the next n bytes, refusing n over limit.
func (d *fieldDecoder) bytes(n, limit int, field string) []byte {
	if d.err == nil && n > limit {
		d.err = formatErr(ErrCorrupt, d.off, "%s length %d exceeds %d", field, n, limit)
	}
	v := d.take(n)
	if v == nil || n == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// backupBodyReader returns the snapshot bytes of a backup and, at their
// end, checks the trailing checksum and that nothing follows; only then
// does it return io.EOF.
type backupBodyReader struct {
	src    *source
	remain int64
	crc    hash.Hash32
	err    error
}

func (b *backupBodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.remain == 0 {
		b.err = b.finish()
		if b.err == nil {
			b.err = io.EOF
		}
		return 0, b.err
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.src.Read(p)
	b.remain -= int64(n)
	b.crc.Write(p[:n])
	if err == io.EOF && n == 0 {
		err = formatErr(ErrTruncated, b.src.off, "input ends inside the snapshot data (%d bytes missing)", b.remain)
	} else if err == io.EOF {
		err = nil
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

func (b *backupBodyReader) finish() error {
	var t [crcSize]byte
	off := b.src.off
	if err := b.src.readFull(t[:], "backup trailer"); err != nil {
		return err
	}
	if stored, computed := binary.BigEndian.Uint32(t[:]), b.crc.Sum32(); stored != computed {
		return formatErr(ErrCorrupt, off, "backup checksum mismatch (stored %08x, computed %08x)", stored, computed)
	}
	return b.src.expectEnd()
}
