package zkconn

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"time"
)

// FourLetter sends a four-letter word (srvr, ruok, mntr, hash...) to the
// server at addr and returns its reply.
func FourLetter(ctx context.Context, addr, word string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// A port held by something other than ZooKeeper may accept and never answer.
	defer context.AfterFunc(ctx, func() { _ = conn.Close() })()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}

// SrvrField returns the value of one "Name: value" line of a srvr reply
// ("Mode", "Zxid"...), or "" when the reply has none (a server that is not
// serving requests).
func SrvrField(srvr, name string) string {
	sc := bufio.NewScanner(strings.NewReader(srvr))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), name+": "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}
