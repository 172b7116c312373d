{{- /* The release's object names: fullnameOverride, else the release name when it already says storage-policy-webhook,
       else <release>-<name>; cut to 63 characters for the labels and DNS names they end up in. */ -}}
{{- define "spw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "spw.fullname" -}}
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
{{- end -}}

{{- define "spw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spw.labels" -}}
{{ include "spw.selectorLabels" . }}
app.kubernetes.io/part-of: storage-policy-webhook
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "spw.image" -}}
{{- $image := .Values.image }}
{{- $repository := $image.registry | empty | ternary $image.repository (printf "%s/%s" $image.registry $image.repository) }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end -}}

{{- /* A file of deploy/components (the kustomize components the chart shares): its namespace and its object names made
       this release's. The namespace goes through a placeholder, as it may itself contain the name. */ -}}
{{- define "spw.component" -}}
{{- $fullname := include "spw.fullname" .root }}
{{- .text | replace "namespace: storage-policy-webhook" "namespace: SPW_NAMESPACE" | replace "storage-policy-webhook" $fullname | replace "SPW_NAMESPACE" .root.Release.Namespace }}
{{- end -}}
