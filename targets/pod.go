package targets

import (
	"bytes"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/pipec/pipec/model"
)

// Volume is a task volume as Kubernetes reads it. The schema has checked
// its fields; an error means the schema lets through what Kubernetes'
// type does not hold.
func Volume(v *model.Volume) (corev1.Volume, error) {
	out := corev1.Volume{Name: v.Name}
	return out, strict(v.Source, &out.VolumeSource)
}

// Probe is a sidecar's readiness probe as Kubernetes reads it; nil if it
// has none.
func Probe(p map[string]any) (*corev1.Probe, error) {
	if p == nil {
		return nil, nil
	}
	out := &corev1.Probe{}
	return out, strict(p, out)
}

// VolumeMounts are a step's or sidecar's mounts.
func VolumeMounts(ms []*model.VolumeMount) []corev1.VolumeMount {
	var out []corev1.VolumeMount
	for _, m := range ms {
		out = append(out, corev1.VolumeMount{Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: m.ReadOnly})
	}
	return out
}

// strict fills out from v, a value in Kubernetes' field names, refusing
// a field out does not have.
func strict(v any, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}
