package zkconn

import (
	"fmt"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"
)

// NewLogger returns a zk.Logger that writes go-zookeeper's messages to l: failures as
// warnings, the rest (connects, reconnects) at debug level.
func NewLogger(l hclog.Logger) zk.Logger { return logger{l} }

type logger struct{ l hclog.Logger }

func (z logger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "fail") || strings.Contains(msg, "error") {
		z.l.Warn("zookeeper client", "detail", msg)
		return
	}
	z.l.Debug("zookeeper client", "detail", msg)
}
