package config

import (
	"fmt"
	"strings"
)

// Registration modes: who may make an account with email and password.
const (
	RegistrationOpen    = "open"    // anyone
	RegistrationInvite  = "invite"  // only with a class join link or an admin's invitation
	RegistrationDomains = "domains" // only addresses at the listed domains
	RegistrationClosed  = "closed"  // nobody; admins create accounts
)

// Registration is the WORKBOOK_REGISTRATION policy.
type Registration struct {
	Mode    string   // one of the Registration* constants
	Domains []string // for RegistrationDomains: lower-case domain names, no leading @
}

// parseRegistration reads "open", "invite", "closed" or
// "domains:example.edu,school.org".
func parseRegistration(s string) (Registration, error) {
	s = strings.TrimSpace(s)
	mode, list, hasList := strings.Cut(s, ":")
	mode = strings.ToLower(strings.TrimSpace(mode))
	switch mode {
	case RegistrationOpen, RegistrationInvite, RegistrationClosed:
		if hasList {
			return Registration{}, fmt.Errorf("%q: only domains takes a list (domains:example.edu,…)", s)
		}
		return Registration{Mode: mode}, nil
	case RegistrationDomains:
		var r Registration
		r.Mode = mode
		for _, d := range strings.Split(list, ",") {
			d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
			if d == "" {
				continue
			}
			if !domainName(d) {
				return Registration{}, fmt.Errorf("%q is not a domain name", d)
			}
			r.Domains = append(r.Domains, d)
		}
		if len(r.Domains) == 0 {
			return Registration{}, fmt.Errorf("%q: list the domains, e.g. domains:example.edu,school.org", s)
		}
		return r, nil
	}
	return Registration{}, fmt.Errorf("%q is not open, invite, closed or domains:example.edu,…", s)
}

// registration reads a registration policy; an invalid one is the
// reader's error.
func (r *reader) registration(name string) Registration {
	reg, err := parseRegistration(r.str(name))
	if err != nil {
		r.fail(name, err)
	}
	return reg
}

// DomainAllowed reports whether the policy's domain rule admits the email
// address: always, unless the mode is domains and the address's domain is
// not one of the list (a subdomain of a listed domain is not admitted).
func (r Registration) DomainAllowed(email string) bool {
	if r.Mode != RegistrationDomains {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	d := strings.ToLower(email[at+1:])
	for _, allowed := range r.Domains {
		if d == allowed {
			return true
		}
	}
	return false
}

// String is the policy as WORKBOOK_REGISTRATION spells it.
func (r Registration) String() string {
	if r.Mode == RegistrationDomains {
		return r.Mode + ":" + strings.Join(r.Domains, ",")
	}
	return r.Mode
}

// domainName reports whether s looks like a DNS name: labels of letters,
// digits and hyphens, at least one dot.
func domainName(s string) bool {
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
