package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/metrics"
)

// useMetrics records into m, or into a registry of the site's own when m
// is nil, and has the limiter's refusals counted.
func (s *Server) useMetrics(m *metrics.Metrics) {
	if m == nil {
		m = metrics.New()
	}
	s.metrics, s.metricsHandler = m, m.Handler()
	s.limiter.OnRefused(m.Throttled)
}

// metricsRoutes adds the route table's routes to the request metrics, so
// that a request is recorded under its route pattern without allocating.
func (s *Server) metricsRoutes(engine *gin.Engine) {
	var routes []metrics.Route
	for _, r := range engine.Routes() {
		routes = append(routes, metrics.Route{Method: r.Method, Path: r.Path})
	}
	s.metrics.HTTP.SetRoutes(routes)
}

// metricsEndpoint serves GET /metrics to Prometheus: to a client on
// loopback, or to one that sends the configured token. Anyone else falls
// through to the next handlers, the site's own 404 page, so the endpoint
// is not there for them.
func (s *Server) metricsEndpoint(c *gin.Context) {
	if !metricsAllowed(c.Request, s.cfg.MetricsToken) {
		return
	}
	s.metricsHandler.ServeHTTP(c.Writer, c.Request)
	c.Abort()
}

// metricsAllowed reports whether r may read the metrics. A request that
// carries a bearer token must carry the right one (compared in constant
// time), from wherever it comes. Without one, only a loopback peer is
// answered (the connection's address, never a header), and only when no
// proxy says it forwarded the request: a reverse proxy on the same host
// connects from loopback on behalf of anyone.
func metricsAllowed(r *http.Request, token string) bool {
	if auth := r.Header.Get("Authorization"); auth != "" {
		got, ok := strings.CutPrefix(auth, "Bearer ")
		return ok && token != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
