package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// etcdPeerDir is the nested module of the etcd peer, relative to the
// module root.
const etcdPeerDir = "internal/bench/etcdpeer"

// findModuleRoot walks up from dir to the directory holding raftkit's
// go.mod.
func findModuleRoot(dir string) (string, error) {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module github.com/raftkit/raftkit\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench: not inside the raftkit module (run from the repository, or pass -etcdpeer)")
		}
		dir = parent
	}
}

// buildEtcdPeer builds the etcd peer's nested module into outDir and
// returns the binary's path.
func buildEtcdPeer(ctx context.Context, outDir string) (string, error) {
	return goBuild(ctx, filepath.Join(outDir, "etcdpeer"), etcdPeerDir, ".")
}

// goBuild runs go build of pkg inside dir (relative to the module root)
// and writes the binary to bin. The error carries go build's output.
func goBuild(ctx context.Context, bin, dir, pkg string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := findModuleRoot(wd)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(root, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: building %s in %s: %w\n%s", pkg, cmd.Dir, err, stderr.String())
	}
	return bin, nil
}

// etcdRequest is one request of the etcd peer's line protocol.
type etcdRequest struct {
	Op         string `json:"op"`
	Dir        string `json:"dir,omitempty"`
	Conc       int    `json:"conc,omitempty"`
	On         string `json:"on,omitempty"`
	Mode       string `json:"mode,omitempty"`
	Size       int    `json:"size,omitempty"`
	WarmupMs   int    `json:"warmup_ms,omitempty"`
	DurationMs int    `json:"duration_ms,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	ValueSize  int    `json:"value_size,omitempty"`
}

type etcdResponse struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error"`
	Result *sample `json:"result"`
}

// errEtcdPeer wraps every failure reported by, or talking to, the peer.
var errEtcdPeer = errors.New("etcd peer")

// etcdPeer is a running etcd peer process.
type etcdPeer struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	log  *os.File
	mu   sync.Mutex
	done chan error
	dead atomic.Bool
}

// startEtcdPeer starts bin; its stderr (etcd's logs) goes to logPath.
func startEtcdPeer(bin, logPath string) (*etcdPeer, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Stderr = logf
	in, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%w: starting %s: %w", errEtcdPeer, bin, err)
	}
	p := &etcdPeer{cmd: cmd, in: in, out: bufio.NewReader(out), log: logf, done: make(chan error, 1)}
	return p, nil
}

// do sends req and waits for the answer, or for ctx.
func (p *etcdPeer) do(ctx context.Context, req etcdRequest) (sample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line, err := json.Marshal(req)
	if err != nil {
		return sample{}, err
	}
	if _, err := p.in.Write(append(line, '\n')); err != nil {
		return sample{}, fmt.Errorf("%w: sending %s: %w", errEtcdPeer, req.Op, err)
	}
	type answer struct {
		line []byte
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		l, err := p.out.ReadBytes('\n')
		ch <- answer{l, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		// The reader goroutine ends when the process is killed.
		p.kill()
		<-ch
		return sample{}, fmt.Errorf("%w: %s: %w", errEtcdPeer, req.Op, ctx.Err())
	}
	if a.err != nil {
		p.dead.Store(true)
		return sample{}, fmt.Errorf("%w: reading the answer to %s: %w (see %s)", errEtcdPeer, req.Op, a.err, p.log.Name())
	}
	var resp etcdResponse
	if err := json.Unmarshal(a.line, &resp); err != nil {
		return sample{}, fmt.Errorf("%w: bad answer to %s: %w: %q", errEtcdPeer, req.Op, err, strings.TrimSpace(string(a.line)))
	}
	if !resp.OK {
		return sample{}, fmt.Errorf("%w: %s: %s", errEtcdPeer, req.Op, resp.Error)
	}
	if resp.Result == nil {
		return sample{}, nil
	}
	return *resp.Result, nil
}

// exited reports whether the peer is known to be gone: killed, or its
// output ended.
func (p *etcdPeer) exited() bool { return p.dead.Load() }

func (p *etcdPeer) kill() {
	p.dead.Store(true)
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
}

// close ends the peer: stdin closes, the peer stops its cluster and
// exits; after a grace period it is killed.
func (p *etcdPeer) close() error {
	p.in.Close()
	go func() { p.done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
		err = <-p.done
		err = fmt.Errorf("%w: did not exit within 30s of stdin closing: %w", errEtcdPeer, err)
	}
	p.log.Close()
	return err
}
