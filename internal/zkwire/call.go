package zkwire

import (
	"context"

	"github.com/go-zookeeper/zk"
)

// request holds what the writer needs to encode one queued call. Encoding happens
// on the writer goroutine into one reused buffer, so a call costs no encoding
// allocation of its own.
type request struct {
	opcode  int32
	xid     int32 // assigned by the writer when the request is written
	path    string
	data    []byte
	version int32
	flags   int32
	acl     []zk.ACL
	ops     []ReadOp
	mode    int32 // addWatch mode
}

// pendingCall is a queued or in-flight call, whatever its result type.
type pendingCall interface {
	req() *request
	// complete finishes the call with a reply. d is positioned after the reply
	// header. It returns an ErrProtocol error when the body cannot be decoded;
	// the call has then failed with that error.
	complete(h replyHeader, d *decoder) error
	// fail finishes the call with err, unless it is finished already.
	fail(err error)
}

// Call is one request's future. Its result is ready once Done is closed.
type Call[T any] struct {
	r    request
	dec  func(*decoder, *request) (T, error)
	done chan struct{}
	zxid int64
	val  T
	err  error
}

func newCall[T any](r request, dec func(*decoder, *request) (T, error)) *Call[T] {
	return &Call[T]{r: r, dec: dec, done: make(chan struct{})}
}

// Done is closed when the call has its result.
func (c *Call[T]) Done() <-chan struct{} { return c.done }

// Wait returns the call's result. ctx only stops the wait: the request stays
// queued or in flight, and its result is still delivered to Done.
func (c *Call[T]) Wait(ctx context.Context) (T, error) {
	select {
	case <-c.done:
		return c.val, c.err
	default:
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Zxid is the zxid of the reply header, valid after Done; 0 when the call failed
// without a reply.
func (c *Call[T]) Zxid() int64 {
	select {
	case <-c.done:
		return c.zxid
	default:
		return 0
	}
}

func (c *Call[T]) req() *request { return &c.r }

func (c *Call[T]) complete(h replyHeader, d *decoder) error {
	c.zxid = h.Zxid
	if err := codeError(h.Err); err != nil {
		c.err = err
		close(c.done)
		return nil
	}
	v, err := c.dec(d, &c.r)
	if err != nil {
		c.err = err
		close(c.done)
		return err
	}
	c.val = v
	close(c.done)
	return nil
}

func (c *Call[T]) fail(err error) {
	select {
	case <-c.done:
	default:
		c.err = err
		close(c.done)
	}
}

// Decoders of each call's reply body, adapted to the one signature Call uses.
var (
	decGetData   = func(d *decoder, _ *request) (Data, error) { return decodeData(d) }
	decStat      = func(d *decoder, _ *request) (zk.Stat, error) { return decodeStat(d) }
	decChildren2 = func(d *decoder, _ *request) (Children, error) { return decodeChildren2(d) }
	decACL       = func(d *decoder, _ *request) (ACLs, error) { return decodeACL(d) }
	decPath      = func(d *decoder, _ *request) (string, error) { return decodePath(d) }
	decEmpty     = func(d *decoder, _ *request) (struct{}, error) { return decodeEmpty(d) }
	decMultiRead = func(d *decoder, r *request) ([]ReadResult, error) { return decodeMultiRead(d, len(r.ops)) }
)
