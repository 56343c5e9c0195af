package raftsync

// AutopilotOverlaps returns how many dead-member removals n's autopilot
// was offered while another was in flight (each was dropped).
func AutopilotOverlaps(n *Node) int {
	n.pilot.mu.Lock()
	defer n.pilot.mu.Unlock()
	return n.pilot.overlap
}

// AutopilotVoterChecks returns how many removal rounds of n's autopilot
// found a dead voter.
func AutopilotVoterChecks(n *Node) int {
	n.pilot.mu.Lock()
	defer n.pilot.mu.Unlock()
	return n.pilot.voterChecks
}
