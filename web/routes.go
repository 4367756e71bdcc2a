package web

import "github.com/gin-gonic/gin"

// routes is the one table of every route the application serves.
func (s *Server) routes(r *gin.Engine) {
	r.Use(s.requestLog, s.recoverPanics, s.secureHeaders)

	// Probes and static files: no session lookup.
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/static/*path", s.static)
	r.HEAD("/static/*path", s.static)

	app := r.Group("/", s.loadSession)
	app.GET("/", s.home)
	app.GET("/register", s.registerForm)
	app.POST("/register", s.register)
	app.GET("/login", s.loginForm)
	app.POST("/login", s.login)
	app.POST("/logout", s.logout)

	r.NoRoute(s.loadSession, s.notFound)
	r.NoMethod(s.loadSession, s.methodNotAllowed)
}
