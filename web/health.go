package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/labs"
)

// healthz says the process is alive; it checks nothing else, so a slow
// database never gets a healthy process restarted.
func (s *Server) healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	if d := s.labs.Directory(); d != nil {
		c.Header(labs.ReplicaHeader, d.Self().ID) // other replicas ask whether this process still runs
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether this replica can serve: the database and Redis both
// answer within a short timeout. A load balancer takes it out of rotation
// otherwise.
func (s *Server) readyz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unhealthy", "reason": "database unreachable"})
		return
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.log.Warn("readiness: redis unreachable", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unhealthy", "reason": "redis unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "healthy"})
}
