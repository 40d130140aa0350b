{{/* Chart name, overridable with nameOverride. */}}
{{- define "sharebot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name of the release's objects (except the Service, see service.name). */}}
{{- define "sharebot.fullname" -}}
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

{{- define "sharebot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sharebot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sharebot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sharebot.labels" -}}
helm.sh/chart: {{ include "sharebot.chart" . }}
{{ include "sharebot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sharebot.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* True (non-empty) when sharebot uses an external database instead of SQLite. */}}
{{- define "sharebot.externalDatabase" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{- define "sharebot.publicUrl" -}}
{{- if .Values.config.publicUrl }}
{{- .Values.config.publicUrl }}
{{- else }}
{{- printf "%s/services/sharebot/" (.Values.hub.publicUrl | trimSuffix "/") }}
{{- end }}
{{- end }}

{{/* SHAREBOT_DATABASE_URL, shared by the migrate init container and sharebot itself. */}}
{{- define "sharebot.databaseEnv" -}}
{{- if .Values.database.existingSecret }}
- name: SHAREBOT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
{{- else if .Values.database.url }}
- name: SHAREBOT_DATABASE_URL
  value: {{ .Values.database.url | quote }}
{{- else }}
- name: SHAREBOT_DATABASE_URL
  value: sqlite:////var/lib/sharebot/sharebot.sqlite
{{- end }}
{{- end }}

{{/* Refuse combinations that cannot work, at install time. */}}
{{- define "sharebot.validate" -}}
{{- if not .Values.hub.publicUrl }}
{{- fail "hub.publicUrl is required: the origin people open the hub at, e.g. --set hub.publicUrl=https://hub.example.org" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "sharebot.externalDatabase" .)) }}
{{- fail "replicaCount > 1 needs an external database (database.url or database.existingSecret, PostgreSQL): the SQLite file cannot be shared between pods" }}
{{- end }}
{{- if and .Values.database.url .Values.database.existingSecret }}
{{- fail "set database.url or database.existingSecret, not both" }}
{{- end }}
{{- end }}
