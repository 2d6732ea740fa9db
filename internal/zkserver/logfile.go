package zkserver

import (
	"io"
	"os"
	"strings"
)

// logAppender opens path for one appended line; writes to it never fail loudly
// because the marker lines it carries are only an aid to reading the log.
func logAppender(path string) io.Writer {
	return appendWriter(path)
}

type appendWriter string

func (w appendWriter) Write(p []byte) (int, error) {
	f, err := os.OpenFile(string(w), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return len(p), nil
	}
	defer f.Close()
	return f.Write(p)
}

// tailFile returns the last n lines of the file at path (at most 16 KiB).
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 16 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
