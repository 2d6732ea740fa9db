package zkwire

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Servers = []string{"127.0.0.1:2181", "zk2:2181"}
	tests := []struct {
		name   string
		change func(*Config)
		valid  bool
	}{
		{"default with servers", func(*Config) {}, true},
		{"auth", func(c *Config) { c.Auth = "u:p" }, true},
		{"no servers", func(c *Config) { c.Servers = nil }, false},
		{"no port", func(c *Config) { c.Servers = []string{"zk1"} }, false},
		{"no session timeout", func(c *Config) { c.SessionTimeout = 0 }, false},
		{"no connect timeout", func(c *Config) { c.ConnectTimeout = 0 }, false},
		{"auth without password", func(c *Config) { c.Auth = "u:" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.valid && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !tt.valid && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestDialUnreachableHonoursContext(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Servers = []string{"127.0.0.1:1"} // nothing listens on port 1
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("dial took %s", time.Since(start))
	}
}
