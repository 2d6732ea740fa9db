package natsserver

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
)

// hclogAdapter is a nats-server Logger writing to hclog.
type hclogAdapter struct{ l hclog.Logger }

var _ server.Logger = hclogAdapter{}

func (a hclogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a hclogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a hclogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a hclogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a hclogAdapter) Tracef(format string, v ...any)  { a.l.Trace(fmt.Sprintf(format, v...)) }

// Fatalf logs and does not exit: an embedded server must never end the test
// binary; the failed listener shows up as a Start error instead.
func (a hclogAdapter) Fatalf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
