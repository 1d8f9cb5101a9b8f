// Microsoft Graph application permissions for the app's managed identity, through the Microsoft Graph Bicep
// extension (alias in ../bicepconfig.json). With these the app calls Graph with its managed identity and
// needs no client secret (AZURE_CLIENT_ID = the identity's client id, no AZURE_CLIENT_SECRET).
// The deploying identity must be allowed to grant app roles: Privileged Role Administrator, or the Graph
// permissions AppRoleAssignment.ReadWrite.All and Application.Read.All.
extension microsoftGraphV1

@description('Object id of the managed identity\'s service principal.')
param principalId string

@description('Graph application permissions (app role values) to grant.')
param appRoles array

// Microsoft Graph's own service principal in this tenant, found by its well-known application id.
resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

resource assignments 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for role in appRoles: {
    resourceId: graph.id
    appRoleId: filter(graph.appRoles, appRole => appRole.value == role && contains(appRole.allowedMemberTypes, 'Application'))[0].id
    principalId: principalId
  }
]

output assignedRoles array = appRoles
