package admin

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// ErrTokenFile is wrapped by every error that refuses a token file. The
// errors name the file and the line, never a token.
var ErrTokenFile = errors.New("admin token file")

// MinTokenLen is the shortest token a token file may hold: 16 characters
// of even a 16-letter alphabet are 64 bits, beyond guessing over the
// network. `openssl rand -hex 32` makes a good one.
const MinTokenLen = 16

// Role is what a token may do.
type Role int

const (
	// RoleRead may call every GET: routes, groups, /v1/proxy, /status and
	// /metrics.
	RoleRead Role = iota + 1
	// RoleWrite may also change routes and groups and remove members.
	RoleWrite
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	}
	return "none"
}

// Tokens is a set of bearer tokens with their roles. It keeps only their
// SHA-256 digests, so a token cannot leak from it into a log or a dump.
// Create it with ParseTokens or LoadTokens; it is immutable and safe for
// concurrent use.
type Tokens struct {
	digests [][sha256.Size]byte
	roles   []Role
}

// Len returns the number of tokens.
func (t *Tokens) Len() int { return len(t.digests) }

// Match returns the role of the token presented, or 0 when it is not in
// the set. It takes the same time whichever token matches, or none: it
// compares the presented token's digest with every digest in constant
// time, without stopping at a match, and comparing fixed-size digests
// hides the tokens' lengths too.
func (t *Tokens) Match(presented string) Role {
	d := sha256.Sum256([]byte(presented))
	role := 0
	for i := range t.digests {
		eq := subtle.ConstantTimeCompare(d[:], t.digests[i][:])
		role = subtle.ConstantTimeSelect(eq, int(t.roles[i]), role)
	}
	return Role(role)
}

// ParseTokens reads a token file: one token per line, optionally followed
// by whitespace and a role, "write" (the default: every endpoint) or
// "read" (only GET). Blank lines and lines starting with '#' are ignored.
// A token is at least MinTokenLen printable ASCII characters without
// spaces. An empty set, a short or repeated token, or an unknown role is
// refused with an error wrapping ErrTokenFile that names the line (name
// is the file's name, for the message).
func ParseTokens(name string, r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	seen := map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		tok, role := fields[0], RoleWrite
		switch {
		case len(fields) > 2:
			return nil, fmt.Errorf("%w %s line %d: want a token and at most a role (write or read)", ErrTokenFile, name, n)
		case len(fields) == 2 && fields[1] == "read":
			role = RoleRead
		case len(fields) == 2 && fields[1] != "write":
			return nil, fmt.Errorf("%w %s line %d: the role must be write or read", ErrTokenFile, name, n)
		}
		if len(tok) < MinTokenLen {
			return nil, fmt.Errorf("%w %s line %d: the token is shorter than %d characters", ErrTokenFile, name, n, MinTokenLen)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] < 0x21 || tok[i] > 0x7e {
				return nil, fmt.Errorf("%w %s line %d: the token holds a character outside printable ASCII", ErrTokenFile, name, n)
			}
		}
		d := sha256.Sum256([]byte(tok))
		if seen[d] {
			return nil, fmt.Errorf("%w %s line %d: the token is listed twice", ErrTokenFile, name, n)
		}
		seen[d] = true
		t.digests = append(t.digests, d)
		t.roles = append(t.roles, role)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w %s line %d: %w", ErrTokenFile, name, n+1, err)
	}
	if len(t.digests) == 0 {
		return nil, fmt.Errorf("%w %s holds no token", ErrTokenFile, name)
	}
	return t, nil
}

// LoadTokens reads the token file at path (see ParseTokens). Like ssh with
// a private key, it refuses a file that other users may read or write
// (mode & 0o007 != 0; group access is allowed, for a service group): a
// token readable by every account on the machine is no secret. The check
// is skipped on Windows, whose permissions are ACLs.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s is not a regular file", ErrTokenFile, path)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w %s is accessible by other users (mode %04o): chmod o-rwx it", ErrTokenFile, path, perm)
	}
	if fi.Size() > 1<<20 {
		return nil, fmt.Errorf("%w %s is larger than 1 MiB", ErrTokenFile, path)
	}
	return ParseTokens(path, f)
}
