package web

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	goredis "github.com/redis/go-redis/v9"
)

// unavailableRetrySeconds is the Retry-After of a 503 that names no wait
// of its own: a dependency that went away is usually back within seconds.
const unavailableRetrySeconds = 5

// unavailableMessage is what a learner reads when PostgreSQL or Redis is
// down; the log has the cause.
const unavailableMessage = "This page needs a service that is unavailable for a moment. Please try again in a few seconds."

// dependencyDown reports whether err says PostgreSQL or Redis could not be
// reached or dropped the connection, rather than that a query was wrong:
// such an error is a 503 the client may retry, not a 500.
func dependencyDown(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	var dns *net.DNSError // Docker's DNS forgets a stopped container's name
	var connect *pgconn.ConnectError
	if errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &connect) {
		return true
	}
	for _, target := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EPIPE,
		driver.ErrBadConn, io.ErrUnexpectedEOF, goredis.ErrPoolTimeout, goredis.ErrClosed,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	// PostgreSQL's own word for it: class 08 is a connection exception,
	// 57P01-57P03 a server shutting down or starting up.
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		state := pg.SQLState()
		return strings.HasPrefix(state, "08") || strings.HasPrefix(state, "57P")
	}
	return false
}

// retryAfterOn503 gives every 503 a Retry-After, unless its handler set
// one: clients and browsers then know it is worth trying again soon.
func retryAfterOn503(c *gin.Context) {
	c.Writer = &retryAfterWriter{ResponseWriter: c.Writer}
	c.Next()
}

type retryAfterWriter struct {
	gin.ResponseWriter
}

func (w *retryAfterWriter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetrySeconds))
	}
	w.ResponseWriter.WriteHeader(code)
}
