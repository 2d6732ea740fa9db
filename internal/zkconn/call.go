package zkconn

import "context"

// Do runs a go-zookeeper call, which takes no context, and gives up waiting
// when ctx ends. The call itself finishes in the background: go-zookeeper
// answers every request, at the latest when the connection closes.
func Do(ctx context.Context, call func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
