package ftppool

import (
	"context"
	"fmt"
)

// IsFolder reports whether p leads to a folder, following links as CWD
// does, on the control connection: the WebDAV front shows a link as what
// it leads to, and a listing with links must not cost a data connection
// per link.
func (h *Handle) IsFolder(ctx context.Context, p string) (bool, error) {
	folder := false
	err := h.do(ctx, func(c *conn) error {
		err := c.sc.ChangeDir(p)
		if err != nil && inStep(err) {
			return nil // refused: not a folder this login can enter
		}
		folder = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("is %s a folder: %w", p, err)
	}
	return folder, nil
}
