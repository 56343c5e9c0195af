//go:build unix

package mux

import (
	"net"
	"syscall"
)

// hasUnreadData reports whether bytes have arrived on conn that nobody has
// read yet, without reading them or blocking: a pending connection whose
// handshake goroutine has not run yet may already have spoken.
func hasUnreadData(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	var n int
	// Control holds no read lock, so a goroutine blocked reading conn does
	// not block this peek.
	if err := raw.Control(func(fd uintptr) {
		n, _, _ = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil {
		return false
	}
	return n > 0
}
