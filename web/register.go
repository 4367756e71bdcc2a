package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// Messages of a join link or an invitation that cannot be used.
const (
	badJoinMessage   = "This join link does not open any class. Check it with your instructor."
	badInviteMessage = "This invitation has been used or has expired. Ask the administrator who sent it for a new one."
)

// registration is what a visitor may do on /register: the server's
// policy, and the class join link or admin invitation they came with.
type registration struct {
	mode    string
	domains []string
	class   *store.Class      // the join link's class
	invite  *store.Invitation // a pending invitation
	token   string            // the invitation's token, to send back
	problem string            // why the join link or invitation cannot be used
}

// registrationFor looks up the join code and invitation token a visitor
// brings; a bad one is a problem to show, not an error.
func (s *Server) registrationFor(ctx context.Context, join, token string) (registration, error) {
	r := registration{mode: s.cfg.Registration.Mode, domains: s.cfg.Registration.Domains}
	if r.mode == "" {
		r.mode = config.RegistrationOpen
	}
	if token = strings.TrimSpace(token); token != "" {
		inv, err := s.store.InvitationByToken(ctx, auth.TokenID(token), s.now())
		switch {
		case err == nil:
			r.invite, r.token = &inv, token
		case apperr.Is(err, apperr.NotFound):
			r.problem = badInviteMessage
		default:
			return r, err
		}
	}
	if join = strings.ToUpper(strings.TrimSpace(join)); join != "" && r.invite == nil {
		cl, err := s.store.ClassByCode(ctx, join)
		switch {
		case err == nil:
			r.class = &cl
		case apperr.Is(err, apperr.NotFound):
			if r.problem == "" {
				r.problem = badJoinMessage
			}
		default:
			return r, err
		}
	}
	return r, nil
}

// allowed reports whether the policy lets this visitor register.
func (r registration) allowed() bool {
	switch {
	case r.invite != nil:
		return true // an admin's invitation admits one address in any mode
	case r.mode == config.RegistrationOpen, r.mode == config.RegistrationDomains:
		return true
	case r.mode == config.RegistrationInvite:
		return r.class != nil
	}
	return false
}

// policy is the one sentence the page opens with: who may register here.
func (r registration) policy() string {
	joins := ""
	if r.class != nil {
		joins = " Your new account joins “" + r.class.Name + "”."
	}
	switch {
	case r.invite != nil:
		return "You are invited to this workbook as " + article(string(r.invite.Role)) + "; choose a password to finish."
	case r.mode == config.RegistrationClosed:
		return "Accounts on this server are made by an administrator; ask yours for one."
	case r.mode == config.RegistrationInvite && r.class != nil:
		return "Your class's join link lets you create an account here." + joins
	case r.mode == config.RegistrationInvite:
		return "Accounts on this server are by invitation: open your class's join link, or the invitation an administrator sent you."
	case r.mode == config.RegistrationDomains:
		return "Accounts here are for email addresses at " + orList(r.domains) + "." + joins
	}
	return "Anyone may create an account here; your progress stays on this server." + joins
}

func article(role string) string {
	if strings.HasPrefix(role, "a") || strings.HasPrefix(role, "i") {
		return "an " + role
	}
	return "a " + role
}

// form is the registration form's model for this visitor.
func (r registration) form(email string) views.AuthForm {
	f := views.AuthForm{Email: email, Policy: r.policy(), CanRegister: r.allowed(), Message: r.problem}
	f.AskJoinCode = !f.CanRegister && r.mode == config.RegistrationInvite
	if r.class != nil {
		f.Join = r.class.JoinCode
	}
	if r.invite != nil {
		f.Invite, f.Email, f.EmailFixed = r.token, r.invite.Email, true
	}
	return f
}

func (s *Server) registerForm(c *gin.Context) {
	if currentUser(c) != nil {
		// Signed in already: a join link still joins.
		if code := strings.TrimSpace(c.Query("join")); code != "" && len(code) <= 16 {
			c.Redirect(http.StatusSeeOther, "/join/"+url.PathEscape(code))
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	reg, err := s.registrationFor(c.Request.Context(), c.Query("join"), c.Query("invite"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Create account"}, views.RegisterView(reg.form("")))
}

// register counts every attempt that passes the form's checks, taken or
// not, before any password is hashed. The policy is applied first: a
// visitor it does not admit gets the page's sentence and a 403.
func (s *Server) register(c *gin.Context) {
	reg, form, creds, ok := s.registrationInput(c)
	if !ok {
		return
	}
	hash, ok := s.registrationHash(c, &form, creds)
	if !ok {
		return
	}
	user, acct, ok := s.createAccount(c, reg, &form, hash)
	if !ok {
		return
	}
	s.log.Info("account created", "user_id", user.ID, "role", user.Role, "invited", reg.invite != nil, "class_id", acct.ClassID)
	if err := s.sessions.start(c, user.ID); err != nil {
		s.fail(c, err)
		return
	}
	welcome := s.welcome(c, &user)
	if reg.class != nil {
		s.flash(c, "success", welcome+" You joined "+reg.class.Name+".")
		c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(reg.class.ID, 10))
		return
	}
	s.flash(c, "success", welcome)
	c.Redirect(http.StatusSeeOther, "/")
}

// registrationInput reads the form under the server's policy: what this
// visitor may do, and the address and password they typed. When it is
// not ok, the answer (403, or the form again with its errors) is sent.
func (s *Server) registrationInput(c *gin.Context) (registration, views.AuthForm, auth.Credentials, bool) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return registration{}, views.AuthForm{}, auth.Credentials{}, false
	}
	pf := c.Request.PostForm
	reg, err := s.registrationFor(c.Request.Context(), pf.Get("join"), pf.Get("invite"))
	if err != nil {
		s.fail(c, err)
		return reg, views.AuthForm{}, auth.Credentials{}, false
	}
	rawEmail := pf.Get("email")
	form := reg.form(strings.TrimSpace(rawEmail))
	if !form.CanRegister {
		s.render(c, http.StatusForbidden, views.Page{Title: "Create account"}, views.RegisterView(form))
		return reg, form, auth.Credentials{}, false
	}
	if reg.problem != "" {
		// The join link or invitation went bad: say so before anything is made.
		form.Email = strings.TrimSpace(rawEmail)
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Create account"}, views.RegisterView(form))
		return reg, form, auth.Credentials{}, false
	}
	creds, errs := auth.ParseRegistration(rawEmail, pf.Get("password"))
	if errs["email"] == "" {
		switch {
		case reg.invite != nil && creds.Email != reg.invite.Email:
			errs["email"] = "This invitation is for " + reg.invite.Email + "; register with that address."
		case reg.invite == nil && !s.cfg.Registration.DomainAllowed(creds.Email):
			errs["email"] = "Only addresses at " + orList(reg.domains) + " can register here."
		}
	}
	if len(errs) > 0 {
		form.Errors = errs
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Create account"}, views.RegisterView(form))
		return reg, form, creds, false
	}
	form.Email = creds.Email
	return reg, form, creds, true
}

// registrationHash counts the attempt against the limit, refuses a taken
// address and hashes the password. When it is not ok, the answer is sent.
func (s *Server) registrationHash(c *gin.Context, form *views.AuthForm, creds auth.Credentials) (string, bool) {
	ctx := c.Request.Context()
	limit := auth.RegisterLimit(c.ClientIP())
	wait, err := s.limiter.Take(ctx, limit)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Registration is unavailable right now. Please try again shortly."))
		return "", false
	}
	if wait > 0 {
		s.tooMany(c, wait, "Create account", views.RegisterView, *form)
		return "", false
	}
	// A taken address is answered before hashing: the 409 says as much
	// anyway, and the hash would be work for nothing.
	switch _, err := s.store.UserByEmail(ctx, creds.Email); {
	case err == nil:
		s.emailTaken(c, form)
		return "", false
	case !apperr.Is(err, apperr.NotFound):
		s.fail(c, err)
		return "", false
	}
	hash, err := s.hasher.Hash(creds.Password)
	if errors.Is(err, auth.ErrBusy) {
		// Nothing was hashed: the attempt goes back to the limit.
		if gerr := s.limiter.GiveBack(context.WithoutCancel(ctx), limit.Key); gerr != nil {
			s.log.Warn("registration limit unavailable", "err", gerr)
		}
		s.busy(c, "Create account", views.RegisterView, *form)
		return "", false
	}
	if err != nil {
		s.fail(c, err)
		return "", false
	}
	return hash, true
}

// emailTaken answers a registration whose address has an account.
func (s *Server) emailTaken(c *gin.Context, form *views.AuthForm) {
	form.Errors = views.FormErrors{"email": "An account with this email already exists. Log in instead?"}
	s.render(c, http.StatusConflict, views.Page{Title: "Create account"}, views.RegisterView(*form))
}

// createAccount stores the account, using the invitation or joining the
// class it came with. When it is not ok, the answer is sent.
func (s *Server) createAccount(c *gin.Context, reg registration, form *views.AuthForm, hash string) (store.User, store.NewAccount, bool) {
	acct := store.NewAccount{Email: form.Email, PasswordHash: hash}
	if reg.invite != nil {
		acct.InvitationHash = auth.TokenID(reg.token)
	}
	if reg.class != nil {
		acct.ClassID = reg.class.ID
	}
	user, err := s.store.Register(c.Request.Context(), acct, s.now())
	switch {
	case apperr.Is(err, apperr.Conflict):
		s.emailTaken(c, form)
		return user, acct, false
	case apperr.Is(err, apperr.NotFound):
		// The invitation was used or revoked while this form was open.
		form.Message = badInviteMessage
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Create account"}, views.RegisterView(*form))
		return user, acct, false
	case err != nil:
		s.fail(c, err)
		return user, acct, false
	}
	return user, acct, true
}
