// Package zktest is what the packages' tests share to run against a real
// ZooKeeper: a standalone server tuned for quick session expiry, one tuned as
// a site of the failover tests, a super-user and a plain client, and a logger
// that writes to the test's log. Like zkserver's helpers it takes zkserver.TB
// rather than importing the testing package.
package zktest
