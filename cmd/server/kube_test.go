package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/sdworkbook/workbook/internal/config"
)

// kubeObjects are the manifests of deploy/kubernetes, each decoded strictly
// into its Kubernetes type: a field the type does not have (a typo, a
// field at the wrong level) fails the decoding.
type kubeObjects struct {
	services     []corev1.Service
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	ingresses    []netv1.Ingress
	namespaces   []corev1.Namespace
}

func readKube(t *testing.T) kubeObjects {
	t.Helper()
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objs kubeObjects
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			if err := objs.add([]byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", filepath.Base(f), i+1, err)
			}
		}
	}
	return objs
}

func (o *kubeObjects) add(doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	strict := func(v any) error { return yaml.UnmarshalStrict(doc, v) }
	switch head.APIVersion + " " + head.Kind {
	case "v1 Service":
		o.services = append(o.services, corev1.Service{})
		return strict(&o.services[len(o.services)-1])
	case "apps/v1 Deployment":
		o.deployments = append(o.deployments, appsv1.Deployment{})
		return strict(&o.deployments[len(o.deployments)-1])
	case "apps/v1 StatefulSet":
		o.statefulSets = append(o.statefulSets, appsv1.StatefulSet{})
		return strict(&o.statefulSets[len(o.statefulSets)-1])
	case "networking.k8s.io/v1 Ingress":
		o.ingresses = append(o.ingresses, netv1.Ingress{})
		return strict(&o.ingresses[len(o.ingresses)-1])
	case "v1 Namespace":
		o.namespaces = append(o.namespaces, corev1.Namespace{})
		return strict(&o.namespaces[len(o.namespaces)-1])
	}
	return &unknownKind{head.APIVersion, head.Kind}
}

type unknownKind struct{ apiVersion, kind string }

func (u *unknownKind) Error() string {
	return "a " + u.apiVersion + " " + u.kind + " the test does not know how to check"
}

// podSpecs are the pod templates by workload name.
func (o kubeObjects) podSpecs() map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for _, d := range o.deployments {
		out[d.Name] = d.Spec.Template
	}
	for _, s := range o.statefulSets {
		out[s.Name] = s.Spec.Template
	}
	return out
}

// The Kubernetes manifests hold together without a cluster: every object
// is a valid one of its type, every Service and workload selector selects
// pods, the Ingress reaches a Service port, the workbook's containers get
// only variables the server reads and a configuration that loads, the
// web replicas' probes ask /readyz and /healthz and they get time to stop
// cleanly, and the database password comes only from the secret.
func TestKubernetesManifests(t *testing.T) {
	objs := readKube(t)
	pods := objs.podSpecs()
	if len(objs.services) < 3 || len(pods) < 4 || len(objs.ingresses) != 1 {
		t.Fatalf("%d services, %d workloads, %d ingresses: the topology is PostgreSQL, Redis, web and grader", len(objs.services), len(pods), len(objs.ingresses))
	}
	checkSelectors(t, objs, pods)
	checkIngress(t, objs)
	for name, tmpl := range pods {
		for _, c := range tmpl.Spec.Containers {
			if c.Image == "workbook:latest" {
				checkWorkbookContainer(t, name, tmpl.Spec, c)
			}
		}
	}
	web := pods["app"].Spec
	if web.TerminationGracePeriodSeconds == nil || *web.TerminationGracePeriodSeconds < 40 {
		t.Error("the web replicas get less than 40 s to stop (streams end, requests 10 s, work 20 s)")
	}
	if c := web.Containers[0]; c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
		c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("the web replicas' readiness must ask /readyz and their liveness /healthz (a database outage must not restart them)")
	}
}

func checkSelectors(t *testing.T, objs kubeObjects, pods map[string]corev1.PodTemplateSpec) {
	t.Helper()
	selects := func(sel map[string]string) bool {
		for _, p := range pods {
			match := len(sel) > 0
			for k, v := range sel {
				match = match && p.Labels[k] == v
			}
			if match {
				return true
			}
		}
		return false
	}
	for _, s := range objs.services {
		if !selects(s.Spec.Selector) {
			t.Errorf("service %s selects no pods (%v)", s.Name, s.Spec.Selector)
		}
	}
	for _, d := range objs.deployments {
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("deployment %s's selector %s=%s does not match its pods", d.Name, k, v)
			}
		}
	}
}

func checkIngress(t *testing.T, objs kubeObjects) {
	t.Helper()
	for _, rule := range objs.ingresses[0].Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			i := slices.IndexFunc(objs.services, func(s corev1.Service) bool { return s.Name == p.Backend.Service.Name })
			if i < 0 || !slices.ContainsFunc(objs.services[i].Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == p.Backend.Service.Port.Name }) {
				t.Errorf("the ingress sends %s to %s:%s, which no service has", p.Path, p.Backend.Service.Name, p.Backend.Service.Port.Name)
			}
		}
	}
}

// checkWorkbookContainer: every variable is one the server reads (or the
// pod address it is built from), the configuration loads with the secret
// in place, and the password is a mounted secret's file, never a value.
func checkWorkbookContainer(t *testing.T, workload string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	known := map[string]bool{"POD_IP": true, "DOCKER_HOST": true}
	for _, v := range config.Vars {
		known[v.Name], known[v.Name+"_FILE"] = true, true
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("%s: %s is not a variable the server reads", workload, e.Name)
		}
		if strings.Contains(e.Name, "PASSWORD") && !strings.HasSuffix(e.Name, "_FILE") || userPassword.MatchString(e.Value) {
			t.Errorf("%s: %s carries a password in the manifest", workload, e.Name)
		}
		env[e.Name] = strings.ReplaceAll(e.Value, "$(POD_IP)", "10.1.2.3")
	}
	file := env["DATABASE_PASSWORD_FILE"]
	if !mountsSecret(pod, c, filepath.Dir(file), "workbook-db") {
		t.Errorf("%s: DATABASE_PASSWORD_FILE %q is not in the mounted workbook-db secret", workload, file)
	}
	pw := filepath.Join(t.TempDir(), "postgres_password")
	if err := os.WriteFile(pw, []byte("stand-in\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["DATABASE_PASSWORD_FILE"] = pw
	if _, err := config.Load(config.MapEnv(env)); err != nil {
		t.Errorf("%s: the server's configuration does not load: %v", workload, err)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsNonRoot == nil && (pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil) {
		t.Errorf("%s: the workbook's container may run as root", workload)
	}
}

// userPassword finds a password in a URL (scheme://user:password@host).
var userPassword = regexp.MustCompile(`://[^/@:]+:[^@/]+@`)

func mountsSecret(pod corev1.PodSpec, c corev1.Container, dir, secret string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == secret {
				return true
			}
		}
	}
	return false
}

// The strict decoding is what catches a misplaced field.
func TestKubernetesDecodingIsStrict(t *testing.T) {
	var o kubeObjects
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	if err := o.add(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("replica")) {
		t.Errorf("a Deployment with \"replica\" decoded: %v", err)
	}
	if err := o.add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")); err == nil {
		t.Error("an unexpected kind passed")
	}
}
