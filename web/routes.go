package web

import (
	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
)

// routes is the one table of every route the application serves.
func (s *Server) routes(r *gin.Engine) {
	r.Use(s.requestLog, s.recoverPanics, s.secureHeaders, retryAfterOn503)

	// Probes and static files: no session lookup.
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	// Prometheus: loopback or the token; anyone else gets the 404 page.
	r.GET("/metrics", s.metricsEndpoint, s.loadSession, s.notFound)
	r.GET("/static/*path", s.static)
	r.HEAD("/static/*path", s.static)

	app := r.Group("/", s.loadSession)
	app.GET("/", s.home)
	s.authRoutes(app)

	s.learnRoutes(app)
	s.interviewRoutes(app)

	app.GET("/labs", s.labsIndex)
	app.GET("/labs/:lab", s.labPage)
	app.POST("/labs/:lab", s.requireUser, s.launchFromForm)
	app.POST("/labs/:lab/instances/:id/stop", s.requireUser, s.ownInstance, s.stopFromForm)
	app.GET("/labs/:lab/exercises/:exercise", s.exercisePage)
	app.POST("/labs/:lab/exercises/:exercise", s.requireUser, s.submitFromForm)
	s.classRoutes(app)
	s.accountRoutes(app)
	s.adminRoutes(app)

	// The exports: pages' links, and scripts with an access token.
	s.exportRoutes(r.Group("/classes", s.loadSessionOrToken))

	app.GET("/submissions/:id", s.requireUser, s.submissionPage)
	app.GET("/submissions/:id/results", s.requireUser, s.submissionResults)
	app.GET("/submissions/:id/archive", s.requireUser, s.ownArchive)

	// The API: JSON, with the same session cookie as the pages or a
	// personal access token.
	r.GET("/api/openapi.json", s.openAPI) // public: no session
	api := r.Group("/api", s.loadSessionOrToken)
	api.GET("/labs", s.apiLabs)
	api.POST("/labs/:lab/instances", s.requireUser, s.apiLaunch)
	api.Any("/labs/:lab/instances/:id", s.requireUser, s.ownInstance, s.apiInstance)
	api.Any("/labs/:lab/instances/:id/*rest", s.requireUser, s.ownInstance, s.apiInstanceRoutes)
	api.POST("/labs/:lab/submissions", s.requireUser, s.apiSubmit)
	api.GET("/exercises", s.apiExercises)
	api.GET("/exercises/:id/starter", s.apiStarter)
	api.GET("/submissions/:id", s.requireUser, s.apiSubmission)
	api.GET("/submissions/:id/events", s.requireUser, s.apiSubmissionEvents)
	api.GET("/submissions/:id/archive", s.requireUser, s.ownArchive)
	s.classAPIRoutes(api)

	r.NoRoute(s.loadSession, s.notFound)
	r.NoMethod(s.loadSession, s.methodNotAllowed)
	s.metricsRoutes(r) // requests are counted by these routes' patterns
}

// authRoutes are the routes of signing in and out, and of the links that
// recover or confirm an account.
func (s *Server) authRoutes(app *gin.RouterGroup) {
	app.GET("/register", s.ssoRegister, s.registerForm)
	app.POST("/register", s.ssoRegister, s.register)
	app.GET("/login", s.ssoLogin, s.loginForm)
	app.POST("/login", s.ssoLogin, s.login)
	app.POST("/logout", s.logout)
	if s.sso != nil {
		// Single sign-on (OpenID Connect), when configured.
		app.POST("/auth/oidc/start", s.oidcStart)
		app.GET(config.OIDCCallbackPath, s.oidcCallback)
	}
	app.GET("/setup/:token", s.setupPage)
	app.POST("/setup/:token", s.setup)
	app.GET("/forgot", s.forgotForm)
	app.POST("/forgot", s.forgot)
	app.GET("/reset/:token", s.resetForm)
	app.POST("/reset/:token", s.reset)
	app.GET("/verify/:token", s.verifyForm)
	app.POST("/verify/:token", s.verify)
}

// learnRoutes are the pages of reading and practising: lessons, quizzes,
// interview questions, flashcard review, progress, search and estimation
// drills.
func (s *Server) learnRoutes(app *gin.RouterGroup) {
	app.GET("/lessons", s.lessonsIndex)
	app.GET("/lessons/diagrams/:file", s.diagram)
	app.GET("/lessons/:slug", s.lessonPage)
	app.POST("/lessons/:slug/complete", s.requireUser, s.completeLesson)
	app.GET("/lessons/:slug/quiz", s.quizPage)
	app.POST("/lessons/:slug/quiz", s.gradeQuiz)
	app.GET("/questions", s.questionsIndex)
	app.GET("/questions/:slug", s.questionPage)
	app.POST("/questions/:slug/answer", s.requireUser, s.answerQuestion)
	app.POST("/questions/:slug/rate", s.requireUser, s.rateQuestion)
	app.GET("/review", s.requireUser, s.reviewPage)
	app.POST("/review", s.requireUser, s.reviewCard)
	app.GET("/progress", s.requireUser, s.progressPage)
	app.POST("/progress/outcomes", s.requireUser, s.tickOutcome)
	app.GET("/search", s.search)
	app.GET("/drills", s.drillsIndex)
	app.GET("/drills/attempts/:id", s.requireUser, s.drillAttemptPage)
	app.GET("/drills/:kind", s.drillPage)
	app.POST("/drills/:kind", s.submitDrill)
}

// classRoutes are an instructor's classes, their assignments and the
// review of submissions, and a learner's joining.
func (s *Server) classRoutes(app *gin.RouterGroup) {
	app.GET("/classes", s.requireUser, s.classesPage)
	app.POST("/classes", s.requireUser, s.createClass)
	app.POST("/classes/join", s.requireUser, s.joinClass)
	app.GET("/join/:code", s.joinPage)
	app.POST("/join/:code", s.requireUser, s.joinClass)
	app.GET("/classes/:id", s.requireUser, s.classPage)
	app.POST("/classes/:id/delete", s.requireUser, s.deleteClass)
	app.POST("/classes/:id/ladders", s.requireUser, s.setClassLadders)
	app.POST("/classes/:id/assignments", s.requireUser, s.addAssignment)
	app.POST("/classes/:id/assignments/:aid/delete", s.requireUser, s.deleteAssignment)
	app.POST("/classes/:id/assignments/:aid/regrade", s.requireUser, s.regradeAssignment)
	app.GET("/classes/:id/submissions/:sid", s.requireUser, s.submissionReviewPage)
	app.GET("/classes/:id/submissions/:sid/archive", s.requireUser, s.classArchive)
	app.POST("/classes/:id/submissions/:sid/review", s.requireUser, s.saveReview)
	app.POST("/classes/:id/submissions/:sid/regrade", s.requireUser, s.regradeOne)
	app.GET("/classes/:id/interviews/:sid", s.requireUser, s.interviewReviewPage)
	app.POST("/classes/:id/interviews/:sid/review", s.requireUser, s.saveInterviewReview)
}

// accountRoutes are the signed-in person's own pages: account, tokens,
// password, sessions and notices.
func (s *Server) accountRoutes(app *gin.RouterGroup) {
	app.GET("/account", s.requireUser, s.accountPage)
	app.POST("/account/verify", s.requireUser, s.resendVerification)
	app.POST("/account/tokens", s.requireUser, s.createToken)
	app.POST("/account/tokens/:tid/revoke", s.requireUser, s.revokeToken)
	app.POST("/account/password", s.requireUser, s.changePassword)
	app.POST("/account/sessions/others/logout", s.requireUser, s.endOtherSessions)
	app.POST("/account/sessions/:sid/logout", s.requireUser, s.endSession)
	app.GET("/notices", s.requireUser, s.noticesPage)
	app.POST("/notices/read", s.requireUser, s.readNotices)
}

// adminRoutes are the administrator's users and invitations.
func (s *Server) adminRoutes(app *gin.RouterGroup) {
	app.GET("/admin/users", s.requireRole(store.RoleAdmin), s.adminUsers)
	app.POST("/admin/users/:uid/role", s.requireRole(store.RoleAdmin), s.setRole)
	app.POST("/admin/invitations", s.requireRole(store.RoleAdmin), s.createInvitation)
	app.POST("/admin/invitations/:iid/revoke", s.requireRole(store.RoleAdmin), s.revokeInvitation)
}

// exportRoutes are a class's downloads, reached by pages' links and by
// scripts with an access token.
func (s *Server) exportRoutes(exports *gin.RouterGroup) {
	exports.GET("/:id/gradebook.csv", s.requireUser, s.gradebookCSV)
	exports.GET("/:id/results.json", s.requireUser, s.resultsJSON)
}

// classAPIRoutes are the class API: JSON, for the browser or a script.
func (s *Server) classAPIRoutes(api *gin.RouterGroup) {
	api.GET("/classes", s.requireUser, s.apiClasses)
	api.POST("/classes", s.requireUser, s.apiCreateClass)
	api.POST("/classes/join", s.requireUser, s.apiJoinClass)
	api.GET("/classes/:id/gradebook", s.requireUser, s.apiGradebook)
}
