// Package roundbatch shares quorum rounds among concurrent reads: N Strong
// or Lease reads waiting at the same moment cost one round instead of N,
// and no read ever joins a round that may have captured its index before
// the read began. raftsync gives a Batcher the RoundFunc that runs one
// confirmation round (see package quorum) or asks the leader for a read
// index.
package roundbatch
