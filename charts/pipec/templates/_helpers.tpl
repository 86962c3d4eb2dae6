{{/* The chart name. */}}
{{- define "pipec.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: release-chart, unless the release name holds the chart name. */}}
{{- define "pipec.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pipec.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pipec.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pipec.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pipec.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: pipec
{{- end }}

{{- define "pipec.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pipec.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: by digest when one is given. */}}
{{- define "pipec.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Fails the render when a forge is enabled without its Secret. */}}
{{- define "pipec.validate" -}}
{{- range $forge := list "github" "gitlab" }}
{{- $v := index $.Values $forge }}
{{- if and $v.enabled (not $v.existingSecret) }}
{{- fail (printf "%s.enabled needs %s.existingSecret: the name of a Secret holding the keys %q (webhook secret) and %q (API token); pipec does not take secrets as values" $forge $forge $v.webhookSecretKey $v.tokenKey) }}
{{- end }}
{{- end }}
{{- end }}
