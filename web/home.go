package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/web/views"
)

func (s *Server) home(c *gin.Context) {
	p := s.page(c, views.Page{Section: "home",
		Description: "Learn system design by building, breaking and measuring real backends."})
	h, err := s.homeModel(c, &p)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, p, views.HomeView(p, h))
}
