package mm2

// WaitCheckpoint waits until no checkpoint is being written in the
// background: a test that abandons a manager (a simulated process crash)
// and reopens its files in the same process calls it first, since a real
// crash leaves no goroutine of the dead process behind.
func WaitCheckpoint(m *Manager) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.disk != nil && m.disk.cpBusy {
		m.disk.synced.Wait()
	}
}

// Closed reports whether m was closed.
func Closed(m *Manager) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
