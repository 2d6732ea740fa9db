package client

import "testing"

func TestFreshSessionConnClearsLastZxid(t *testing.T) {
	// A connect request: length, protocol version 0, lastZxidSeen, timeout, session id.
	req := []byte{0, 0, 0, 44, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x27, 0x10, 9, 9, 9, 9, 9, 9, 9, 9}
	for _, split := range []int{1, 5, 9, 12, 16, 20, len(req)} {
		rec := &recordingConn{}
		c := newFreshSessionConn(rec)
		for rest := req; len(rest) > 0; {
			n := min(split, len(rest))
			if _, err := c.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		c.Write([]byte{1, 1}) // later packets pass unchanged
		want := append(append([]byte{}, req[:8]...), 0, 0, 0, 0, 0, 0, 0, 0)
		want = append(append(want, req[16:]...), 1, 1)
		if string(rec.b) != string(want) {
			t.Fatalf("split %d: wrote %v, want %v", split, rec.b, want)
		}
		if req[8] != 1 {
			t.Fatal("caller's buffer was modified")
		}
	}
}

type recordingConn struct {
	fakeConn
	b []byte
}

func (c *recordingConn) Write(p []byte) (int, error) { c.b = append(c.b, p...); return len(p), nil }
