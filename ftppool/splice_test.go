package ftppool

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestPipeMove: bytes go from one socket to the other whole, and a failure
// is put on the side it happened: the source ending early or going
// silent is a read error, the destination going away a write error.
func TestPipeMove(t *testing.T) {
	if !canSplice {
		t.Skip("no splice(2) on this system")
	}
	content := make([]byte, 3<<20+17)
	rand.Read(content)
	cases := []struct {
		name      string
		send      int // bytes the client sends before it stops
		hangUp    bool
		closeDest bool
		wantRead  error
		wantWrite bool
	}{
		{"all of it", len(content), true, false, nil, false},
		{"the source ends early", 1 << 20, true, false, io.ErrUnexpectedEOF, false},
		{"the source goes silent", 1 << 20, false, false, os.ErrDeadlineExceeded, false},
		{"the destination goes away", len(content), true, true, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, src := socketPair(t)
			dst, server := socketPair(t)
			go func() {
				client.Write(content[:tc.send])
				if tc.hangUp {
					client.CloseWrite()
				}
			}()
			got := make(chan []byte, 1)
			go func() {
				if tc.closeDest {
					server.Close()
					got <- nil
					return
				}
				b, _ := io.ReadAll(server)
				got <- b
			}()
			if tc.closeDest {
				<-got
			}
			src.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			dst.SetWriteDeadline(time.Now().Add(5 * time.Second))
			p, err := newPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			moved, readErr, writeErr := p.move(dst, src, int64(len(content)))
			if !errors.Is(readErr, tc.wantRead) || (readErr == nil) != (tc.wantRead == nil) {
				t.Errorf("read error %v, want %v", readErr, tc.wantRead)
			}
			if (writeErr != nil) != tc.wantWrite {
				t.Errorf("write error %v, want one: %v", writeErr, tc.wantWrite)
			}
			if tc.closeDest {
				return
			}
			dst.Close()
			b := <-got
			if int64(len(b)) != moved || !bytes.Equal(b, content[:len(b)]) || len(b) != tc.send {
				t.Errorf("moved %d, the other end got %d bytes (equal to what was sent: %v), want %d", moved, len(b), bytes.Equal(b, content[:len(b)]), tc.send)
			}
		})
	}
}
