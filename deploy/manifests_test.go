// Package deploy holds Tongban's Kubernetes manifests (kustomize base and
// overlays). This test renders every overlay offline with kustomize's own
// library, decodes each object strictly into the Kubernetes API types, and
// checks the invariants a county's operators rely on.
package deploy

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// objects is one rendered overlay, decoded.
type objects struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	policies    []*networkingv1.NetworkPolicy
	namespace   string
}

func render(t *testing.T, dir string) *objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs := &objects{}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		// Strict: a misspelt field is an error, not a silently dropped key.
		decode := func(into any) {
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Fatalf("%s: %s: %v\n%s", dir, tm.Kind, err, doc)
			}
		}
		var ns string
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			decode(d)
			objs.deployments, ns = append(objs.deployments, d), d.Namespace
		case "batch/v1/Job":
			j := &batchv1.Job{}
			decode(j)
			objs.jobs, ns = append(objs.jobs, j), j.Namespace
		case "v1/Service":
			s := &corev1.Service{}
			decode(s)
			objs.services, ns = append(objs.services, s), s.Namespace
		case "policy/v1/PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			decode(p)
			objs.pdbs, ns = append(objs.pdbs, p), p.Namespace
		case "networking.k8s.io/v1/NetworkPolicy":
			p := &networkingv1.NetworkPolicy{}
			decode(p)
			objs.policies, ns = append(objs.policies, p), p.Namespace
		case "v1/ServiceAccount":
			decode(&corev1.ServiceAccount{})
		case "v1/PersistentVolumeClaim":
			decode(&corev1.PersistentVolumeClaim{})
		default:
			t.Fatalf("%s: unexpected object %s %s", dir, tm.APIVersion, tm.Kind)
		}
		if objs.namespace == "" {
			objs.namespace = ns
		}
	}
	return objs
}

// checkPod checks what every pod of Tongban must have.
func checkPod(t *testing.T, what string, spec corev1.PodSpec, probes bool) {
	t.Helper()
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: pod does not require a non-root user", what)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token it does not need", what)
	}
	for _, c := range spec.Containers {
		name := what + "/" + c.Name
		if probes && (c.LivenessProbe == nil || c.ReadinessProbe == nil) {
			t.Errorf("%s: lacks liveness or readiness probe", name)
		}
		if probes && c.ReadinessProbe != nil && (c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz") {
			t.Errorf("%s: readiness is not /readyz", name)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.IsZero() || lim.IsZero() || lim.Cmp(req) < 0 {
				t.Errorf("%s: %s request %v, limit %v", name, r, req.String(), lim.String())
			}
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: container may escalate privileges or write its root filesystem", name)
		}
		for _, e := range c.Env {
			// (a *_FILE setting is the path of a mounted Secret, not a secret)
			secretish := (strings.Contains(e.Name, "DATABASE_URL") || strings.Contains(e.Name, "KEY") || strings.Contains(e.Name, "TOKEN")) &&
				!strings.HasSuffix(e.Name, "_FILE")
			if secretish && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
				t.Errorf("%s: %s must come from a Secret, by reference", name, e.Name)
			}
		}
	}
}

func TestManifests(t *testing.T) {
	for _, dir := range []string{"base", "overlays/dev", "overlays/production"} {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if dir != "base" && objs.namespace == "" {
				t.Error("an overlay must set the namespace")
			}
			names := map[string]*appsv1.Deployment{}
			for _, d := range objs.deployments {
				names[d.Name] = d
				checkPod(t, "Deployment "+d.Name, d.Spec.Template.Spec, true)
				// A PodDisruptionBudget covers it.
				covered := false
				for _, p := range objs.pdbs {
					sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
					if err == nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
						covered = true
					}
				}
				if !covered {
					t.Errorf("Deployment %s has no PodDisruptionBudget", d.Name)
				}
				// Services talk mutual TLS with the certificate of tongban-tls;
				// no deployment runs the demo clock.
				env := map[string]string{}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					env[e.Name] = e.Value
				}
				if env["TONGBAN_TLS_CERT_FILE"] == "" || env["TONGBAN_TLS_KEY_FILE"] == "" || env["TONGBAN_TLS_CA_FILE"] == "" || env["TONGBAN_TLS_CLIENT_AUTH"] != "require" {
					t.Errorf("Deployment %s does not run mutual TLS: %v", d.Name, env)
				}
				// No demo conveniences, and the credentials only from Secrets.
				for _, name := range []string{"TONGBAN_DEMO_CLOCK", "TONGBAN_DEMO_CLOCK_KEY", "TONGBAN_DEMO_TOKENS"} {
					if _, ok := env[name]; ok {
						t.Errorf("Deployment %s sets %s", d.Name, name)
					}
				}
				fromSecret := map[string]bool{}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					fromSecret[e.Name] = e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
				}
				for _, name := range []string{"TONGBAN_SERVICE_TOKEN", "TONGBAN_AUDIT_SIGNING_KEY"} {
					if !fromSecret[name] {
						t.Errorf("Deployment %s does not take %s from a Secret", d.Name, name)
					}
				}
				// The audit heads go to a volume outside the database.
				heads := false
				for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
					heads = heads || m.Name == "audit-heads" && env["TONGBAN_AUDIT_HEADS_DIR"] == m.MountPath
				}
				if !heads {
					t.Errorf("Deployment %s does not write its signed audit heads to the audit-heads volume", d.Name)
				}
				if d.Name == "gateway" && (!fromSecret["TONGBAN_TOKEN_SIGNING_KEYS"] || !fromSecret["TONGBAN_TOKEN_KEY_ID"]) {
					t.Errorf("the gateway does not take its token keys from a Secret")
				}
				if d.Name != "gateway" && (!fromSecret["TONGBAN_TOKEN_PUBLIC_KEYS"] || env["TONGBAN_GATEWAY_ADDR"] == "") {
					t.Errorf("Deployment %s does not verify tokens with the gateway's keys and revocations", d.Name)
				}
				// The Go runtime's soft memory limit sits below the
				// container's hard one, so the collector acts before an
				// out-of-memory kill.
				limit := d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().Value()
				mib, err := strconv.ParseInt(strings.TrimSuffix(env["GOMEMLIMIT"], "MiB"), 10, 64)
				if err != nil || !strings.HasSuffix(env["GOMEMLIMIT"], "MiB") || mib<<20 > limit*8/10 || env["GOGC"] == "" {
					t.Errorf("Deployment %s: GOMEMLIMIT %q, GOGC %q: want both, the limit in MiB at most 80 %% of the container's %d bytes",
						d.Name, env["GOMEMLIMIT"], env["GOGC"], limit)
				}
				tlsVolume := false
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Secret != nil && v.Secret.SecretName == "tongban-tls" {
						tlsVolume = true
					}
				}
				if !tlsVolume {
					t.Errorf("Deployment %s does not mount the tongban-tls secret", d.Name)
				}
				if dir == "overlays/production" {
					if img := d.Spec.Template.Spec.Containers[0].Image; strings.HasSuffix(img, ":latest") || !strings.Contains(img, ":") {
						t.Errorf("production runs an unpinned image %q", img)
					}
					if *d.Spec.Replicas < 2 {
						t.Errorf("production runs %s with %d replica", d.Name, *d.Spec.Replicas)
					}
				}
			}
			for _, want := range []string{"intake", "assignment", "scheduling", "reporting", "gateway"} {
				if names[want] == nil {
					t.Errorf("no Deployment %s", want)
				}
			}
			// A migration Job per service, run as the same image with MIGRATE_ONLY.
			migrates := map[string]bool{}
			for _, j := range objs.jobs {
				checkPod(t, "Job "+j.Name, j.Spec.Template.Spec, false)
				for _, e := range j.Spec.Template.Spec.Containers[0].Env {
					if e.Name == "TONGBAN_MIGRATE_ONLY" && e.Value == "true" {
						migrates[strings.TrimPrefix(j.Name, "migrate-")] = true
					}
				}
			}
			for _, svc := range []string{"intake", "assignment", "scheduling", "reporting"} {
				if !migrates[svc] {
					t.Errorf("no migration Job for %s", svc)
				}
			}
			// Only the gateway is reachable from outside: Services are internal,
			// everything is denied by default, and only the edge tier admits
			// traffic from anywhere.
			for _, s := range objs.services {
				if s.Spec.Type != corev1.ServiceTypeClusterIP && s.Spec.Type != "" {
					t.Errorf("Service %s is %s: expose only the gateway, through the cluster's ingress", s.Name, s.Spec.Type)
				}
			}
			denyAll, open := false, []string{}
			for _, p := range objs.policies {
				if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2 {
					denyAll = true
				}
				for _, in := range p.Spec.Ingress {
					if len(in.From) == 0 {
						for _, port := range in.Ports {
							open = append(open, fmt.Sprintf("%v:%v", p.Spec.PodSelector.MatchLabels, port.Port))
						}
					}
				}
			}
			if !denyAll {
				t.Error("no default-deny NetworkPolicy")
			}
			// Open to all: the gateway's HTTP port, and the services' probe port
			// (the kubelet's probes come from the node).
			want := []string{"map[tongban.gov.cn/tier:edge]:8080", "map[tongban.gov.cn/tier:service]:8081"}
			if strings.Join(open, " ") != strings.Join(want, " ") {
				t.Errorf("ingress open to all: %v, want %v", open, want)
			}
		})
	}
}
