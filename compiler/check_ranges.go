package compiler

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	prommodel "github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pipec/pipec/model"
)

// Values the generated objects' readers cannot hold. The schema checks
// the form of durations; their range is checked here, so that a value
// out of range is reported as such, with the largest one allowed.

// goDurationRE is the syntax time.ParseDuration accepts. A string of that
// syntax that it refuses is out of range: Kubernetes (metav1.Duration),
// Tekton, Argo CD, Argo Rollouts, Karpenter and Prometheus all read
// durations into Go's time.Duration, int64 nanoseconds.
var goDurationRE = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// Longest durations, as the readers' own units write them: the largest
// time.Duration (2562047h47m16.854775807s) in whole seconds, and in whole
// minutes for Karpenter's budget durations, which take no seconds.
var (
	maxDurationSeconds = (time.Duration(math.MaxInt64) / time.Second * time.Second).String()
	maxDurationMinutes = strings.TrimSuffix((time.Duration(math.MaxInt64) / time.Minute * time.Minute).String(), "0s")
)

const durationRangeHint = "Kubernetes, Tekton, Argo and Karpenter read durations into Go's time.Duration, 64-bit nanoseconds; a longer one overflows it, and the object is refused or misread"

// durationOutOfRange reports whether s is written as a Go duration that
// time.ParseDuration refuses because it does not fit a time.Duration.
func durationOutOfRange(s string) bool {
	if !goDurationRE.MatchString(s) {
		return false
	}
	_, err := time.ParseDuration(s)
	return err != nil
}

// reportDurationRange reports a duration out of range; most is the
// longest one allowed, in the units the field takes.
func (c *checker) reportDurationRange(path model.Path, s, most, example string) {
	d := c.report(ruleDuration, path, "duration %q is out of range: a duration holds at most %s (about 292 years)", s, most)
	d.Expected = fmt.Sprintf("at most %s, such as %s", most, example)
	d.Hint = durationRangeHint
}

// checkDuration checks a Go duration that must be above zero.
func (c *checker) checkDuration(path model.Path, s string) {
	if durationOutOfRange(s) {
		c.reportDurationRange(path, s, maxDurationSeconds, `"90s", "10m" or "1h30m"`)
		return
	}
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		e := c.report(ruleDuration, path, "invalid duration %q", s)
		e.Expected = `a positive duration such as "90s", "10m" or "1h30m"`
	}
}

// checkKarpenterDuration checks consolidateAfter and expireAfter: the
// NodePool CRD's pattern, then Karpenter's NillableDuration, which reads
// the value with time.ParseDuration.
func (c *checker) checkKarpenterDuration(path model.Path, s string) {
	switch {
	case !karpenterDurationRE.MatchString(s):
		d := c.report(ruleDuration, path, "%q is not a Karpenter duration", s)
		d.Expected = `whole hours, minutes and seconds such as "30s", "5m" or "720h", or "Never"`
	case s != "Never" && durationOutOfRange(s):
		c.reportDurationRange(path, s, maxDurationSeconds, `"720h", or "Never" for no limit`)
	}
}

// checkBudgetDuration checks a disruption budget's duration: the NodePool
// CRD's pattern, then metav1.Duration, which reads it with
// time.ParseDuration.
func (c *checker) checkBudgetDuration(path model.Path, s string) {
	switch {
	case !budgetDurationRE.MatchString(s):
		d := c.report(ruleDuration, path, "%q is not a budget duration", s)
		d.Expected = `hours and minutes such as "8h", "90m" or "1h30m" (Karpenter takes no seconds here)`
	case durationOutOfRange(s):
		c.reportDurationRange(path, s, maxDurationMinutes, `"8h" or "1h30m"`)
	}
}

// checkPromDuration checks a duration that Prometheus reads (alert `for`,
// range selectors) with its own parser: whole numbers of y, w, d, h, m, s
// and ms, largest unit first, within a time.Duration.
func (c *checker) checkPromDuration(path model.Path, s string) {
	_, err := prommodel.ParseDuration(s)
	switch {
	case err == nil:
	case err.Error() == "duration out of range":
		c.reportDurationRange(path, s, maxDurationSeconds, `"10m" or "1h30m"`)
	default:
		d := c.report(ruleDuration, path, "%q is not a Prometheus duration", s)
		d.Expected = `whole units, largest first, such as "90s", "10m" or "1h30m"`
	}
}

// Int-or-percent values (rolling updates, canaries, disruption budgets),
// as Kubernetes' ValidatePositiveIntOrPercent and IsNotMoreThan100Percent
// (k8s.io/kubernetes/pkg/apis/apps/validation) and Argo Rollouts'
// invalidMaxSurgeMaxUnavailable read them.

// intOrPercent reads a decoded int-or-percent value ("3" or "25%"), empty
// when unset.
func intOrPercent(s string) (intstr.IntOrString, bool) {
	if s == "" {
		return intstr.IntOrString{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return intstr.FromInt32(int32(n)), true
	}
	return intstr.FromString(s), true
}

// isZero reports whether v is 0 or "0%", as Kubernetes and Argo Rollouts
// evaluate it for the both-zero rule.
func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	if len(validation.IsValidPercent(v.StrVal)) != 0 {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return err == nil && n == 0
}

// checkSurgeAndUnavailable reports maxSurge and maxUnavailable that are
// both zero, which Kubernetes refuses for a Deployment and Argo Rollouts
// for a canary: the rollout could never replace a pod. The form and range
// of each are the schema's.
func (c *checker) checkSurgeAndUnavailable(path model.Path, maxSurge, maxUnavailable, what string) {
	surge, ok1 := intOrPercent(maxSurge)
	unavailable, ok2 := intOrPercent(maxUnavailable)
	if !ok1 || !ok2 || !isZero(surge) || !isZero(unavailable) {
		return
	}
	at := path.Field("maxUnavailable")
	if !c.src.Has(at) {
		at = path.Field("maxSurge") // maxUnavailable is the default
	}
	d := c.report(ruleRollout, at, "maxSurge and maxUnavailable of %s are both zero, so no pod can ever be replaced", what)
	d.Expected = "maxSurge or maxUnavailable above zero, such as maxSurge: 1, maxUnavailable: 0"
	d.Hint = "Kubernetes refuses a Deployment whose rolling update has both at zero, and Argo Rollouts a canary"
}

// maxQuantity is the largest value a Kubernetes quantity holds, 2^63-1.
var maxQuantity = resource.NewQuantity(math.MaxInt64, resource.DecimalSI)

// quantityOutOfRange reports whether q, parsed from s, is above 2^63-1.
// resource.ParseQuantity caps a binary-suffixed one ("9999999999Ei") at
// 2^63-1 itself, so only s written as that number may equal it.
func quantityOutOfRange(q resource.Quantity, s string) bool {
	switch q.Cmp(*maxQuantity) {
	case 1:
		return true
	case 0:
		return s != maxQuantity.String()
	}
	return false
}

// checkListenerResources checks the EventListener's requests and limits
// as a step's: its Deployment's container takes them, and the target
// builds them with resource.MustParse.
func (c *checker) checkListenerResources() {
	t := c.plan.Triggers
	c.checkResources(&model.Step{Name: model.ListenerName, Path: t.Path.Field("listener"), Resources: t.Resources})
}
