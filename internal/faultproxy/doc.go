// Package faultproxy is a TCP proxy for tests. It sits on the loopback
// interface between a client and a real server (Redis, PostgreSQL) and,
// on demand, does to the traffic what a broken network or a failing server
// would: it stalls, resets a connection in the middle of a command, loses
// one reply, or goes down and refuses connections.
//
// A fault is either injected at once (Stall, Refuse) or armed with Inject
// to strike the first command that a Matcher recognises, so that a test
// can fail any one step of a conversation. Heal ends every fault.
//
// It listens on 127.0.0.1 only and forwards only to the target it was
// started with.
package faultproxy
