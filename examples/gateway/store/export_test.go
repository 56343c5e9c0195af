package store

// TombOrderLen exposes the length of the tombstone order list to tests.
func TombOrderLen(m *Mem) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tombOrder)
}
