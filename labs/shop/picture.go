package shop

import _ "embed"

// picture draws an order's saga timeline and stock as bars; see
// labs.Pictured.
//
//go:embed picture.js
var picture []byte

// Picture is the script that draws the shop's answers.
func (lab) Picture() []byte { return picture }
