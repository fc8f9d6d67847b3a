package ports

//go:generate go tool mockgen -destination ../mocks/clock.go -package mocks -source clock.go

import "time"

// Clock tells the current time. Tests replace it to move time at will.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}
