// Operations workbook on Application Insights, built from the saved queries in infra/monitoring/*.kql (the same
// files can be pasted into the Logs blade). Every query follows the workbook's time-range picker.

param location string
param tags object
param applicationInsightsName string
param displayName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var panels = [
  {
    name: 'events'
    title: 'App events per hour'
    visualization: 'barchart'
    query: loadTextContent('../../monitoring/app-events.kql')
  }
  {
    name: 'failures'
    title: 'Invocations and failures by function'
    visualization: 'table'
    query: loadTextContent('../../monitoring/failures-by-function.kql')
  }
  {
    name: 'latency'
    title: 'HTTP answer times against Graph (3 s) and Teams (5 s) deadlines'
    visualization: 'table'
    query: loadTextContent('../../monitoring/http-latency.kql')
  }
  {
    name: 'auth'
    title: 'Verification failures by reason'
    visualization: 'table'
    query: loadTextContent('../../monitoring/auth-rejections.kql')
  }
  {
    name: 'notConfigured'
    title: 'Features not configured'
    visualization: 'table'
    query: loadTextContent('../../monitoring/not-configured.kql')
  }
  {
    name: 'poison'
    title: 'Messages moved to poison queues'
    visualization: 'table'
    query: loadTextContent('../../monitoring/poison-messages.kql')
  }
  {
    name: 'graphTraffic'
    title: 'Graph notifications received, enqueued and dropped; Graph requests and throttling'
    visualization: 'table'
    query: loadTextContent('../../monitoring/graph-traffic.kql')
  }
  {
    name: 'subscription'
    title: 'Graph subscription maintenance runs'
    visualization: 'table'
    query: loadTextContent('../../monitoring/subscription-maintenance.kql')
  }
]

var timeRangeItem = {
  type: 9
  name: 'parameters'
  content: {
    version: 'KqlParameterItem/1.0'
    parameters: [
      {
        id: 'time-range'
        version: 'KqlParameterItem/1.0'
        name: 'TimeRange'
        type: 4
        isRequired: true
        value: { durationMs: 86400000 }
        typeSettings: {
          selectableValues: [
            { durationMs: 3600000 }
            { durationMs: 14400000 }
            { durationMs: 86400000 }
            { durationMs: 604800000 }
            { durationMs: 2592000000 }
          ]
        }
      }
    ]
    style: 'pills'
    queryType: 0
    resourceType: 'microsoft.insights/components'
  }
}

var queryItems = map(panels, panel => {
  type: 3
  name: panel.name
  content: {
    version: 'KqlItem/1.0'
    title: panel.title
    query: panel.query
    size: 0
    timeContextFromParameter: 'TimeRange'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: panel.visualization
  }
})

var workbookContent = {
  version: 'Notebook/1.0'
  items: concat([timeRangeItem], queryItems)
  fallbackResourceIds: [
    applicationInsights.id
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsights.id, 'operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(workbookContent)
    version: '1.0'
  }
}

output workbookId string = workbook.id
