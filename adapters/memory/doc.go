// Package memory implements every port in process memory: the embedded
// default of the daemon and the fast test double of the service. It is not
// a mock: its stores behave like the real ones (expiry, the secret check,
// transactions that succeed or fail as a whole, the parent check).
package memory
