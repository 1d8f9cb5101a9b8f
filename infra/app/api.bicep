// The function app on Flex Consumption: Node 22, the user-assigned identity for everything (deployment
// package, host storage, the app's own storage clients, Application Insights, Key Vault references, Graph).
// Deprecated Flex settings (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE,
// WEBSITE_CONTENT*, SCM_DO_BUILD_DURING_DEPLOYMENT, WEBSITE_TIME_ZONE) are deliberately absent: the runtime is
// functionAppConfig.runtime and timers run in UTC.

param name string
param location string
param tags object
param planId string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param maximumInstanceCount int
param alwaysReadyHttpInstances int

@description('Public https origin of the app; empty = https:// and the site\'s default host name.')
param publicBaseUrl string

@description('Plain app settings (name -> value); empty values are left out.')
param appSettings object

param keyVaultUri string

@description('App setting name -> Key Vault secret name.')
param keyVaultSecretNames object

@description('App setting name -> whether its secret was written to Key Vault.')
param secretsProvided object

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Identity-based AzureWebJobsStorage for the host (triggers, timer locks) and for the app's own queue and table
// clients, which mirror these settings (src/lib/storage.ts). No AzureWebJobsStorage connection string.
var platformSettings = {
  AzureWebJobsStorage__accountName: storageAccount.name
  AzureWebJobsStorage__blobServiceUri: storageAccount.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storageAccount.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storageAccount.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Not a secret once local authentication is off: ingestion also needs the identity's Entra token.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Version-less references follow the latest secret version: a secret rotated in Key Vault reaches the app within a
// day, or at once with any app-settings change, without a deployment.
var providedSecretNames = filter(items(keyVaultSecretNames), secret => bool(secretsProvided[secret.key]))
var keyVaultReferences = toObject(
  providedSecretNames,
  secret => secret.key,
  secret => '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secret.value})'
)

// Read from the site once it exists, not built from its name: the host name Azure gives the app may differ
// (regional default host names), and a custom domain replaces it.
var baseUrl = !empty(publicBaseUrl) ? publicBaseUrl : 'https://${site.outputs.defaultHostname}'
var siteSettings = {
  PUBLIC_BASE_URL: baseUrl
}

var nonEmptySettings = filter(items(union(appSettings, platformSettings, siteSettings)), setting => !empty(setting.value))
var plainSettings = toObject(nonEmptySettings, setting => setting.key, setting => string(setting.value))

var alwaysReady = alwaysReadyHttpInstances > 0 ? [
  {
    name: 'http'
    instanceCount: alwaysReadyHttpInstances
  }
] : []

module site 'br/public:avm/res/web/site:0.19.3' = {
  name: '${name}-site'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    serverFarmResourceId: planId
    httpsOnly: true
    managedIdentities: {
      userAssignedResourceIds: [
        identityId
      ]
    }
    // Key Vault references resolve with the user-assigned identity (it holds Key Vault Secrets User).
    keyVaultAccessIdentityResourceId: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: 2048
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReady
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: name
}

// All app settings in one config resource after the site, because PUBLIC_BASE_URL needs the site's host name. It
// replaces the whole set, so a setting removed here is removed from the app.
resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(plainSettings, keyVaultReferences)
}

output name string = site.outputs.name
output publicBaseUrl string = baseUrl
