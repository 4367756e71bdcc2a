// Package duplex lets a reverse proxy keep reading a request's body after
// it has begun to write the answer.
//
// Go's HTTP/1 server, by default, reads and closes whatever is left of a
// request's body as soon as a handler writes its answer. A
// httputil.ReverseProxy sends the body on in one goroutine and copies the
// answer back in another: when the upstream answers quickly, the answer
// can start before the transport has made its last read of the body (the
// one that checks the body is not longer than declared). That read then
// fails on the closed body, the transport closes its connection to the
// upstream, and the answer already on its way is cut: the client gets
// "unexpected EOF" and the proxy logs "use of closed network
// connection". It happens under load, when the goroutine sending the body
// is made to wait at the wrong moment.
package duplex

import "net/http"

// Allow tells w's server that the handler reads the request's body while
// it writes the answer, so the server leaves the body alone.
func Allow(w http.ResponseWriter) {
	// An error means w cannot do it (an HTTP/2 writer always can, a
	// recorder in a test never): there is nothing more to do then.
	_ = http.NewResponseController(w).EnableFullDuplex()
}

// Handler is h, with Allow called before each request.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Allow(w)
		h.ServeHTTP(w, r)
	})
}
