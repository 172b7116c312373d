{{- define "spw.labels" -}}
app.kubernetes.io/name: storage-policy-webhook
app.kubernetes.io/part-of: storage-policy-webhook
{{- end -}}
