package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// ResetLimits are the budgets of password reset requests: 3 an hour for
// one address (so nobody can flood someone's inbox) and 30 an hour from
// one IP (a class behind one NAT forgetting passwords fits). Every request
// counts, for an address with an account or without, so the answers are
// the same either way.
func ResetLimits(email, ip string) []Limit {
	h := sha256.Sum256([]byte(email))
	return []Limit{
		{Key: "throttle:reset:email:" + hex.EncodeToString(h[:12]), Max: 3, Window: time.Hour},
		{Key: "throttle:reset:ip:" + ip, Max: 30, Window: time.Hour},
	}
}

// VerifyResendLimit is the budget of "send the confirmation link again"
// for one account: 3 an hour.
func VerifyResendLimit(userID int64) Limit {
	return Limit{Key: "throttle:verify:user:" + strconv.FormatInt(userID, 10), Max: 3, Window: time.Hour}
}

// Keys lists the limits' keys, for GiveBack.
func Keys(limits ...Limit) []string {
	keys := make([]string, len(limits))
	for i, l := range limits {
		keys[i] = l.Key
	}
	return keys
}
