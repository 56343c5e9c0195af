package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpora in testdata/fuzz")

// streamSeeds are the FuzzReader seeds, also committed in testdata/fuzz.
func streamSeeds(t testing.TB) map[string][]byte {
	payload := routeConfig(11, 200)
	none := encodeStream(t, Header{Index: 10, Term: 2, CreatedUnixNano: 1}, payload)
	return map[string][]byte{
		"valid-none":        none,
		"valid-flate":       encodeStream(t, Header{Index: 10, Term: 2, Compression: Flate}, payload),
		"valid-empty":       encodeStream(t, Header{}, nil),
		"valid-tiny-chunks": frameStream(Header{Index: 1}, []byte("a"), []byte("bc"), []byte("def")),
		"bad-payload-byte":  flip(none, headerSizeV1+chunkHdrSize+3),
		"truncated-trailer": none[:len(none)-2],
		"trailing-garbage":  append(bytes.Clone(none), 'x'),
		"not-a-snapshot":    []byte("RKSNAP"),
	}
}

// backupSeeds are the FuzzReadBackup seeds, also committed in testdata/fuzz.
func backupSeeds(t testing.TB) map[string][]byte {
	inner := encodeStream(t, Header{Index: 10, Term: 2}, routeConfig(12, 100))
	h := testBackupHeader(len(inner))
	good := encodeBackup(t, h, inner)
	forged := forgedHeaders()
	fieldsEnd, _ := backupOffsets(h)
	return map[string][]byte{
		"valid":                      good,
		"valid-minimal":              encodeBackup(t, BackupHeader{Index: 1, Term: 1}, nil),
		"bad-data-byte":              flip(good, len(good)-10),
		"truncated":                  good[:len(good)-1],
		"truncated-header":           good[:fieldsEnd-3],
		"absurd-length":              func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[10:], 0xffffffff); return b }(),
		"snapshot-stream-not-backup": inner,
		"intact-version-2":           rechecksumBackupHeader(func() []byte { b := bytes.Clone(good); b[9] = 2; return b }(), fieldsEnd),
		"forged-index-maxuint64":     forgeBackup(forged["Index=MaxUint64"], inner),
		"forged-index-0":             forgeBackup(forged["Index=0"], inner),
		"forged-term-maxuint64":      forgeBackup(forged["Term=MaxUint64"], inner),
		"forged-config-index":        forgeBackup(forged["ConfigurationIndex>Index"], inner),
		"forged-config-no-voter":     forgeBackup(forged["Configuration without voter"], inner),
		"forged-config-garbage":      forgeBackup(forged["Configuration garbage"], inner),
	}
}

func addSeeds(f *testing.F, seeds map[string][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
}

// checkFormatError fails unless err is a *FormatError of one of kinds.
func checkFormatError(t *testing.T, err error, kinds ...error) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("error %v wraps none of %v", err, kinds)
}

func FuzzReader(f *testing.F) {
	addSeeds(f, streamSeeds(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newStreamReader(bytes.NewReader(data))
		if err != nil {
			checkFormatError(t, err, ErrNotSnapshot, ErrUnsupportedVersion, ErrCorrupt, ErrTruncated)
			return
		}
		out, err := io.ReadAll(r)
		if err != nil {
			checkFormatError(t, err, ErrCorrupt, ErrTruncated)
			return
		}
		// Success must mean a well-formed header and a trailer that matches
		// the payload returned, checked here independently of the reader.
		if len(data) < headerSizeV1+1+trailerSize || !bytes.Equal(data[:8], streamMagic[:]) {
			t.Fatalf("accepted %d bytes without a full header and trailer", len(data))
		}
		if crc32.Checksum(data[:offHeaderCRC], castagnoli) != binary.BigEndian.Uint32(data[offHeaderCRC:]) {
			t.Fatal("accepted a header whose checksum does not match")
		}
		tr := data[len(data)-1-trailerSize:]
		if tr[0] != chunkTagEnd || binary.BigEndian.Uint64(tr[1:]) != uint64(len(out)) ||
			binary.BigEndian.Uint32(tr[9:]) != crc32.Checksum(out, castagnoli) {
			t.Fatalf("accepted a stream whose trailer does not match its %d-byte payload", len(out))
		}
		// And what was accepted survives a round trip through the Writer.
		again, err := newStreamReader(bytes.NewReader(encodeStream(t, r.Header(), out)))
		if err != nil {
			t.Fatalf("re-encoded stream refused: %v", err)
		}
		if back, err := io.ReadAll(again); err != nil || !bytes.Equal(back, out) || again.Header() != r.Header() {
			t.Fatalf("re-encoded stream reads back differently (err %v)", err)
		}
	})
}

func FuzzReadBackup(f *testing.F) {
	addSeeds(f, backupSeeds(f))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		h, rc, err := ReadBackup(bytes.NewReader(data), dir)
		if err != nil {
			checkFormatError(t, err, ErrNotBackup, ErrUnsupportedVersion, ErrCorrupt, ErrTruncated)
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Fatalf("ReadBackup left %v after an error", names)
			}
			return
		}
		defer rc.Close()
		out, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("reading accepted snapshot bytes: %v", err)
		}
		if int64(len(out)) != h.Size {
			t.Fatalf("header says %d bytes, reader gave %d", h.Size, len(out))
		}
		// The backup encoding is canonical: success means WriteBackup would
		// have produced exactly these bytes.
		var re bytes.Buffer
		if err := WriteBackup(&re, h, bytes.NewReader(out)); err != nil {
			t.Fatalf("accepted header does not re-encode: %v", err)
		}
		if !bytes.Equal(re.Bytes(), data) {
			t.Fatal("accepted backup differs from its re-encoding")
		}
	})
}

// FuzzBackupHeaderValues forges backups from arbitrary header values with
// valid checksums (what a forger who knows the format writes) and checks
// that ReadBackup accepts exactly the headers that satisfy every rule of
// checkValues, read back unchanged, and refuses the others with
// ErrCorrupt, leaving nothing behind. The seeds are the forged headers of
// TestReadBackupRefusesForgedHeaders and valid ones.
func FuzzBackupHeaderValues(f *testing.F) {
	add := func(h BackupHeader) {
		f.Add(h.Index, h.Term, h.ConfigurationIndex, h.Configuration, h.CreatedUnixNano, []byte(h.ClusterID))
	}
	add(testBackupHeader(0))
	add(BackupHeader{Index: 1, Term: 1})
	add(BackupHeader{Index: MaxBackupIndex, Term: MaxBackupIndex})
	for _, h := range forgedHeaders() {
		add(h)
	}
	dir := f.TempDir()
	data := []byte("snapshot bytes")
	f.Fuzz(func(t *testing.T, index, term, cfgIndex uint64, cfg []byte, created int64, clusterID []byte) {
		if len(cfg) > MaxBackupConfigurationLen || len(clusterID) > MaxBackupIDLen {
			return
		}
		h := BackupHeader{ClusterID: string(clusterID), Index: index, Term: term, ConfigurationIndex: cfgIndex, Configuration: cfg, CreatedUnixNano: created}
		got, rc, err := ReadBackup(bytes.NewReader(forgeBackup(h, data)), dir)
		if err != nil {
			checkFormatError(t, err, ErrCorrupt)
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Fatalf("ReadBackup left %v after an error", names)
			}
			if WriteBackup(io.Discard, h, bytes.NewReader(data)) == nil {
				t.Fatalf("ReadBackup refused (%v) a header WriteBackup writes: %+v", err, h)
			}
			return
		}
		rc.Close()
		// Accepted: every value within the documented bounds.
		if got.Index == 0 || got.Index > MaxBackupIndex || got.Term == 0 || got.Term > MaxBackupIndex ||
			got.ConfigurationIndex > got.Index || got.CreatedUnixNano < 0 {
			t.Fatalf("accepted out-of-range header %+v", got)
		}
		if len(got.Configuration) > 0 {
			c, err := got.RaftConfiguration()
			if err != nil || checkRaftConfiguration(c) != "" || got.ConfigurationIndex == 0 {
				t.Fatalf("accepted a configuration raft refuses: %+v (%v)", c, err)
			}
		}
		h.Size = int64(len(data))
		if !equalBackupHeaders(got, h) {
			t.Fatalf("header read back as %+v, want %+v", got, h)
		}
	})
}

// TestFuzzCorpusCommitted checks that every seed is committed under
// testdata/fuzz, so `go test` replays them even without the f.Add calls and
// `go test -fuzz` starts from them. Run with -update-corpus to rewrite.
func TestFuzzCorpusCommitted(t *testing.T) {
	for target, seeds := range map[string]map[string][]byte{
		"FuzzReader":     streamSeeds(t),
		"FuzzReadBackup": backupSeeds(t),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, seed := range seeds {
			want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", seed)
			path := filepath.Join(dir, name)
			if *updateCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale (err %v); run go test -run TestFuzzCorpusCommitted -update-corpus", path, err)
			}
		}
	}
}
