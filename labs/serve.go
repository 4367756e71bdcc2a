package labs

import (
	"net/http"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// HandlerOf is the HTTP handler of inst's routes: its own Handler, or for
// a lab not yet converted, its Routes served on a labhttp.Router. Paths
// are relative to the instance: "/request", "/items/1".
func HandlerOf(inst Instance) http.Handler {
	switch in := inst.(type) {
	case Served:
		return in.Handler()
	case legacy:
		return routerOf(in.Routes())
	}
	return labhttp.NewRouter(nil) // no routes: every path is a 404
}

// RoutesOf lists the routes inst declares, as method and pattern.
func RoutesOf(inst Instance) []labhttp.Route {
	if r, ok := HandlerOf(inst).(interface{ Routes() []labhttp.Route }); ok {
		return r.Routes()
	}
	return nil
}
