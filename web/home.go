package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/web/views"
)

func (s *Server) home(c *gin.Context) {
	p := s.page(c, views.Page{Section: "home",
		Description: "Learn system design by building, breaking and measuring real backends."})
	s.render(c, http.StatusOK, p, views.HomeView(p, views.Home{}))
}
