// Package all is the list of labs this build serves and grades: the one
// place a lab is registered. Adding a lab is a package under labs/ and one
// line here.
package all

import (
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/breaker"
	"github.com/sdworkbook/workbook/labs/cache"
	"github.com/sdworkbook/workbook/labs/limiter"
	"github.com/sdworkbook/workbook/labs/shop"
	"github.com/sdworkbook/workbook/labs/shortener"
)

// Registry lists the labs, in the order pages show them.
func Registry() *labs.Registry {
	return labs.MustRegistry(
		limiter.Lab,
		breaker.Lab,
		cache.Lab,
		shortener.Lab,
		shop.Lab,
	)
}
