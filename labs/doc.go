// Package labs is the small framework every live lab is built on: a lab has
// a design (knobs with defaults and validation), builds instances on the
// Redis client and database it is handed, serves its own HTTP routes under
// the instance, and reports metrics in 100 ms buckets and an event log that
// the browser draws live. The Manager owns running instances: who owns them,
// how many, how long they live, and the bounded load runs against them.
// Exercises are graded by checks that reach the design under test through
// a Target, over HTTP only.
//
// Lab packages (labs/limiter, labs/breaker, …) import this one and
// labs/labhttp; this one imports none of them, nothing of the web layer
// and not the store. labs/all lists them.
//
// # How to build a lab
//
// The limiter (labs/limiter) is the model; a lab is one package and one
// line in labs/all.
//
//  1. The lab: a value implementing Lab. Info gives the page's text, its
//     charts and its Pokes (ready-made requests to the lab's routes);
//     Fields the design's knobs with defaults and ranges; Check the rules
//     across fields; New builds an instance on an Env (its Redis keys under
//     Env.Prefix, its rows keyed by Env.Instance, time from Env.Clock).
//     A lab that draws some answers better than their JSON is also
//     Pictured: it embeds a script (labs/shop/picture.js).
//
//  2. The instance: Hit (one unit of work for a load run), State, Close
//     (stops background work, removes its keys and rows), and
//     Handler() http.Handler: a *labhttp.Router built once in New, on
//     ServeMux patterns relative to the instance (below). The router lists its routes (the web app's authorization test tries
//     every one on another learner's instance) and answers unknown paths
//     and methods in the API's error shape. Handlers read input with
//     labhttp (DecodeJSON, Query, QueryInt, QueryFloat) and answer with
//     labhttp.WriteJSON, or labhttp.WriteError with a *labhttp.Error:
//     BadRequest and Invalid name the field, Unavailable hides a Redis or
//     database error from the learner and logs it with the request's id.
//
//  3. The contract: the routes and bodies are the lab's HTTP contract,
//     documented in the package (see the limiter's doc.go). A learner's own
//     service implements the same contract, and the checks grade it the
//     same way.
//
//  4. The checks: an Exercise lists Checks; each gets a *Trial. A check
//     takes its time from t.Timeline(start) (a ManualClock it moves on a
//     built-in design, real time on a service: AdvanceTo sets or waits),
//     starts targets with t.Start(ctx, changes) and talks to them with
//     Call, Send or CallJSON only; OutcomeOf turns a RouteError into a
//     failure (below 500) or an environment failure. Whatever a check
//     needs to observe is an endpoint of the contract (the limiter's GET
//     /stats), never a Go value of the instance, and Target.Design may be
//     nil (a service): explain from the design only when there is one.
//     What not every target can do is a Capability (ManualTime, Replicas,
//     Restart, Faults): ask t.Can or Target.Can, and adapt, or Skip with a
//     sentence the learner reads. Restart needs the instance to be a
//     Halter; Faults a FaultInjector.
//
//  5. References: designs with known verdicts (Exercise.References), and a
//     test that runs them on labtest.Envs and labtest.CheckReferences.
//
// An instance's routes:
//
//	rt := labhttp.NewRouter(env.Log) // its failures go to the instance's log
//	rt.HandleFunc("POST /request", in.handleRequest)
//	rt.HandleFunc("GET /items/{item}", in.handleItem) // r.PathValue("item")
//
// # Waiting on the suite's clock
//
// Each lab's own sleep on its clock (breaker, cache) may stay: labs.Sleep
// is the shared one. A lab whose checks must know when its calls wait on
// the suite's clock says so over HTTP: the breaker's GET /waits; the
// shop's GET /clock waits until it is at rest, and its POST /clock/step
// moves the clock to its next timer, as only the shop knows when every
// service waits. The cache's checks follow each operation's goroutines
// instead through the requests' context, which an in-process target hands
// to the instance's handler (the manual clock is in-process only anyway):
// see its drive. What a check must read that the design's own routes do
// not show is a route of the contract too, optional for a service: the
// shortener's GET links lists the stored links, and its POST batch
// creates many links at once without the per-client limit a check would
// otherwise wait out; the cache's GET db/items/{item} reads a row without
// the cache.
package labs
