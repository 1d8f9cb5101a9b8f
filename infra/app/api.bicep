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
var keyVaultReferences = map(providedSecretNames, secret => {
  name: secret.key
  value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secret.value})'
})

var nonEmptySettings = filter(items(union(appSettings, platformSettings)), setting => !empty(setting.value))
var plainSettings = map(nonEmptySettings, setting => {
  name: setting.key
  value: string(setting.value)
})

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
      appSettings: concat(plainSettings, keyVaultReferences)
    }
  }
}

output name string = site.outputs.name
