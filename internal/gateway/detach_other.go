//go:build !unix

package gateway

import "errors"

// detach cannot replace a mapping here; the OS filesystem maps no file on
// these systems (vfs), so no mapping ever reaches it.
func detach(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return errors.ErrUnsupported
}
