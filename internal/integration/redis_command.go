package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// replyError is an error reply of Redis, such as "NOGOODSLAVE No suitable
// replica to promote".
type replyError string

func (e replyError) Error() string { return "redis replied " + string(e) }

// redisCommand sends one command to the server at addr, on a connection of
// its own, and returns its reply: a string for a simple, bulk or integer
// reply, a []any for an array, nil for a null, and a replyError for an
// error reply. It waits at most two seconds.
func redisCommand(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(conn))
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return nil, replyError(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// ping sends PING to addr and wants PONG.
func ping(addr string) error {
	reply, err := redisCommand(addr, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("redis answered %q to PING", reply)
	}
	return nil
}

// info returns the fields of the server's INFO section, such as
// "replication", or of CLUSTER INFO for "cluster".
func info(addr, section string) (map[string]string, error) {
	var reply any
	var err error
	if section == "cluster" {
		reply, err = redisCommand(addr, "CLUSTER", "INFO")
	} else {
		reply, err = redisCommand(addr, "INFO", section)
	}
	if err != nil {
		return nil, err
	}
	text, _ := reply.(string)
	m := make(map[string]string)
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// fields reads a reply of alternating names and values, as SENTINEL
// MASTER gives, into a map.
func fields(reply any) map[string]string {
	items, _ := reply.([]any)
	m := make(map[string]string, len(items)/2)
	for i := 0; i+1 < len(items); i += 2 {
		k, _ := items[i].(string)
		v, _ := items[i+1].(string)
		m[k] = v
	}
	return m
}
