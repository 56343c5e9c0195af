// Package testtls creates throw-away certificate authorities and
// certificates at test run time, for tests that exercise raftkit's mutual
// TLS. It is imported only from _test files.
//
//	ca := testtls.NewCA(t)
//	cert := ca.Issue(t, "node-1", net.IPv4(127, 0, 0, 1))
//	conf := ca.ServerClientConfig(cert) // both ends of a mutual-TLS link
//
// Keys are ECDSA P-256; certificates are valid from an hour ago for a day
// and usable for both server and client authentication.
package testtls
