package workload

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.Servers = []string{"127.0.0.1:2181"}
		return c
	}
	cases := []struct {
		name string
		tune func(*Config)
		ok   bool
	}{
		{"default with servers", func(*Config) {}, true},
		{"prefix", func(c *Config) { c.Prefix = "/app/zk" }, true},
		{"rate and ops", func(c *Config) { c.Rate, c.Ops = 500, 10_000 }, true},
		{"a mix of one kind", func(c *Config) { c.Mix = map[Kind]int{KindQueuePut: 1} }, true},
		{"no servers", func(c *Config) { c.Servers = nil }, false},
		{"relative prefix", func(c *Config) { c.Prefix = "app" }, false},
		{"prefix with a trailing slash", func(c *Config) { c.Prefix = "/app/" }, false},
		{"root prefix", func(c *Config) { c.Prefix = "/" }, false},
		{"reserved prefix", func(c *Config) { c.Prefix = "/zkdr/app" }, false},
		{"tiny size", func(c *Config) { c.Size = 10 }, false},
		{"replication over brokers", func(c *Config) { c.Brokers, c.ReplicationFactor = 2, 3 }, false},
		{"state over the jute limit", func(c *Config) { c.StateMax = 2 << 20 }, false},
		{"state min over max", func(c *Config) { c.StateMin, c.StateMax = 50_000, 20_000 }, false},
		{"negative rate", func(c *Config) { c.Rate = -1 }, false},
		{"unknown kind", func(c *Config) { c.Mix = map[Kind]int{"fly": 1} }, false},
		{"empty mix", func(c *Config) { c.Mix = map[Kind]int{KindQueuePut: 0} }, false},
		{"auth without a password", func(c *Config) { c.Auth = "secret" }, false},
		{"no queue", func(c *Config) { c.Queues = 0 }, false},
		{"huge multi", func(c *Config) { c.MultiChunk = 5000 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.tune(&c)
			err := c.Validate()
			if tc.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
			if _, nerr := New(c); (nerr == nil) != tc.ok {
				t.Fatalf("New: %v", nerr)
			}
		})
	}
}

// A secret in Auth is never part of an error.
func TestConfigErrorsHideTheAuth(t *testing.T) {
	c := DefaultConfig()
	c.Servers, c.Auth = []string{"127.0.0.1:2181"}, "hunter2"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
}
