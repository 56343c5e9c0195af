//go:build !unix

package mux

import "net"

// hasUnreadData cannot peek on this platform: it reports false.
func hasUnreadData(net.Conn) bool { return false }
